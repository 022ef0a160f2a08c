using System.Collections.Concurrent;
using System.Diagnostics;

namespace Tollgate.Testing;

/// <summary>
/// Concurrent clients pinging a metered route until stopped, each answer recorded with its status and the time it
/// came (status 0: no answer within the client timeout). A stop lets every request in flight finish, so that each
/// request the server handled has its answer here, and rows can be compared with answers one for one.
/// </summary>
public sealed class PingLoad : IAsyncDisposable
{
    private readonly ConcurrentQueue<(TimeSpan At, int Status)> _answers = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly List<HttpClient> _clients = [];
    private readonly Task[] _loops;
    private volatile bool _stopping;

    private PingLoad(TollgateApp app, string apiKey, int clients)
    {
        for (var i = 0; i < clients; i++)
        {
            var client = app.TenantClient(apiKey);
            client.Timeout = TimeSpan.FromSeconds(10);
            _clients.Add(client);
        }

        _loops = [.. _clients.Select(client => Task.Run(() => LoopAsync(client)))];
    }

    /// <summary>Time since the load started.</summary>
    public TimeSpan Elapsed => _clock.Elapsed;

    /// <summary>Answers with a 2xx status so far.</summary>
    public int Ok => _answers.Count(a => a.Status is >= 200 and < 300);

    /// <summary>Starts <paramref name="clients"/> clients.</summary>
    public static PingLoad Start(TollgateApp app, string apiKey, int clients = 16) => new(app, apiKey, clients);

    /// <summary>Answers with <paramref name="status"/> (0: timed out).</summary>
    public int Count(int status) => _answers.Count(a => a.Status == status);

    /// <summary>2xx answers per second between two times since the start.</summary>
    public double OkPerSecond(TimeSpan from, TimeSpan to) =>
        _answers.Count(a => a.At >= from && a.At < to && a.Status is >= 200 and < 300) / (to - from).TotalSeconds;

    /// <summary>Lets the requests in flight finish and stops.</summary>
    public async Task StopAsync()
    {
        _stopping = true;
        await Task.WhenAll(_loops);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        foreach (var client in _clients)
        {
            client.Dispose();
        }
    }

    private async Task LoopAsync(HttpClient client)
    {
        while (!_stopping)
        {
            int status;
            try
            {
                using var response = await client.GetAsync("/api/v1/ping");
                status = (int)response.StatusCode;
            }
            catch (TaskCanceledException)
            {
                status = 0;
            }

            _answers.Enqueue((_clock.Elapsed, status));
        }
    }
}
