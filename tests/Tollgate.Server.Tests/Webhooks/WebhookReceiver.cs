using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using StandardWebhooks;
using Tollgate.Testing;

namespace Tollgate.Server.Tests.Webhooks;

/// <summary>
/// A real webhook receiver: an HTTP listener on a free loopback port that verifies every delivery's signature with the
/// endpoint's secret through the StandardWebhooks package, and answers what the test tells it to.
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _requests;

    private WebhookReceiver(int port, Func<int, int> answer)
    {
        Port = port;
        Answer = answer;
        _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    /// <summary>The port listened on.</summary>
    public int Port { get; }

    /// <summary>The URL to register.</summary>
    public string Url => $"http://127.0.0.1:{Port}/hook";

    /// <summary>The secret deliveries are verified with; set once the endpoint is created.</summary>
    public string? Secret { get; set; }

    /// <summary>The status to answer the n-th request (1, 2, …).</summary>
    public Func<int, int> Answer { get; set; }

    /// <summary>How long to wait before answering: keeps deliveries in flight while other instances poll.</summary>
    public TimeSpan Delay { get; set; }

    /// <summary>Every request received, in order.</summary>
    public ConcurrentQueue<Delivery> Received { get; } = new();

    /// <summary>Starts a receiver on a free port (or <paramref name="port"/>) that answers 200 unless told otherwise.</summary>
    public static WebhookReceiver Start(int? port = null, Func<int, int>? answer = null) => new(port ?? FreePort.Next(), answer ?? (_ => 200));

    /// <summary>Waits until <paramref name="count"/> requests arrived; fails after <paramref name="timeout"/>.</summary>
    public async Task WaitForAsync(int count, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (Received.Count < count)
        {
            Assert.True(DateTime.UtcNow < deadline, $"Expected {count} webhook requests, got {Received.Count}.");
            await Task.Delay(50);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Close();
        try
        {
            await _loop;
        }
        catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or OperationCanceledException)
        {
        }

        _stop.Dispose();
    }

    private async Task LoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
            var body = await reader.ReadToEndAsync();
            var headers = new HeaderDictionary();
            foreach (var name in context.Request.Headers.AllKeys)
            {
                headers[name!] = context.Request.Headers[name];
            }

            string? verifyError = null;
            try
            {
                new StandardWebhook(Secret ?? throw new InvalidOperationException("No secret set on the receiver.")).Verify(body, headers);
            }
            catch (Exception ex)
            {
                verifyError = ex.Message;
            }

            if (Delay > TimeSpan.Zero)
            {
                await Task.Delay(Delay);
            }

            var n = Interlocked.Increment(ref _requests);
            Received.Enqueue(new Delivery(headers["webhook-id"].ToString(), body, verifyError, context.Request.HttpMethod, context.Request.ContentType));
            context.Response.StatusCode = Answer(n);
            context.Response.Close();
        }
    }

    /// <summary>One request as received.</summary>
    /// <param name="WebhookId">Its <c>webhook-id</c>.</param>
    /// <param name="Body">The raw body.</param>
    /// <param name="VerifyError">Null when the signature verified; else why not.</param>
    /// <param name="Method">HTTP method.</param>
    /// <param name="ContentType">Content type.</param>
    public sealed record Delivery(string WebhookId, string Body, string? VerifyError, string Method, string? ContentType)
    {
        public JsonElement Json => JsonDocument.Parse(Body).RootElement;
    }
}
