using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Tollgate.Testing;

/// <summary>
/// A real ASP.NET Core upstream on a free loopback port. Every path answers; the last segment picks the behaviour:
/// <c>upload</c> hashes the body, <c>stream</c> sends two chunks with a pause the test controls, <c>sleep</c> waits
/// <c>?ms=</c>, <c>missing</c> is an empty 404, anything else echoes what arrived. It counts calls by path and by tenant header.
/// </summary>
public sealed class AspNetUpstream : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, int> _byPath = new();
    private readonly ConcurrentDictionary<string, int> _byTenant = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _streamGates = new();

    private AspNetUpstream(int port)
    {
        Port = port;
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.Logging.ClearProviders();
        _app = builder.Build();
        _app.Map("/{**rest}", HandleAsync);
    }

    public int Port { get; }

    public string Address => $"http://127.0.0.1:{Port}/";

    public static async Task<AspNetUpstream> StartAsync()
    {
        var upstream = new AspNetUpstream(FreePort.Next());
        await upstream._app.StartAsync();
        return upstream;
    }

    public int CallsTo(string path) => _byPath.GetValueOrDefault(path);

    public int CallsFor(long tenantId) => _byTenant.GetValueOrDefault(tenantId.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>Lets the <c>stream</c> answer with <c>?id=</c> send its second chunk.</summary>
    public void ReleaseStream(string id) => _streamGates.GetOrAdd(id, _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        _byPath.AddOrUpdate(request.Path.Value!, 1, (_, n) => n + 1);
        _byTenant.AddOrUpdate(request.Headers["X-Tollgate-Tenant-Id"].ToString(), 1, (_, n) => n + 1);
        var last = request.Path.Value!.Split('/')[^1];
        switch (last)
        {
            case "upload":
                using (var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
                {
                    var buffer = new byte[16384];
                    long length = 0;
                    int read;
                    while ((read = await request.Body.ReadAsync(buffer)) > 0)
                    {
                        sha.AppendData(buffer, 0, read);
                        length += read;
                    }

                    await Results.Json(new { length, sha256 = Convert.ToHexString(sha.GetHashAndReset()) }).ExecuteAsync(context);
                }

                return;
            case "stream":
                var gate = _streamGates.GetOrAdd(request.Query["id"].ToString(), _ => new(TaskCreationOptions.RunContinuationsAsynchronously));
                context.Response.ContentType = "text/plain";
                await context.Response.WriteAsync("first-chunk\n");
                await context.Response.Body.FlushAsync();
                await gate.Task.WaitAsync(TimeSpan.FromSeconds(30));
                await context.Response.WriteAsync("second-chunk\n");
                return;
            case "missing":
                // An upstream's own error without a body.
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return;
            case "sleep":
                // Task.Delay's timer ticks in whole milliseconds and can fire up to one early by the
                // Stopwatch the gateway measures with (CI saw 118.6 ms for 120), so wait on the Stopwatch.
                var wait = TimeSpan.FromMilliseconds(int.Parse(request.Query["ms"].ToString(), System.Globalization.CultureInfo.InvariantCulture));
                var started = System.Diagnostics.Stopwatch.GetTimestamp();
                TimeSpan left;
                while ((left = wait - System.Diagnostics.Stopwatch.GetElapsedTime(started)) > TimeSpan.Zero)
                    await Task.Delay(left + TimeSpan.FromMilliseconds(1), context.RequestAborted);
                await Results.Text("slept").ExecuteAsync(context);
                return;
            default:
                var headers = request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString());
                await Results.Json(new { server = "aspnet", method = request.Method, path = request.Path.Value, query = request.QueryString.Value, headers })
                    .ExecuteAsync(context);
                return;
        }
    }
}
