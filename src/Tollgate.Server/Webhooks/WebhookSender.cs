using System.Text;
using Microsoft.Extensions.Options;
using StandardWebhooks;

namespace Tollgate.Webhooks;

/// <summary>What one attempt got: the receiver's status code, or the error that left it without one.</summary>
/// <param name="StatusCode">The status code; null without an answer.</param>
/// <param name="Error">What went wrong; null on a 2xx.</param>
internal readonly record struct SendResult(int? StatusCode, string? Error)
{
    public bool Succeeded => StatusCode is >= 200 and < 300;
}

/// <summary>
/// POSTs one signed message. Signed by the <c>StandardWebhooks</c> package (<c>webhook-id</c>, <c>webhook-timestamp</c>,
/// <c>webhook-signature: v1,…</c>); redirects are not followed (a 3xx is a failed attempt); no proxy, and every
/// connection goes through <see cref="NetworkGuard"/>.
/// </summary>
internal sealed class WebhookSender : IDisposable
{
    private readonly HttpClient _client;
    private readonly TimeProvider _time;

    public WebhookSender(NetworkGuard guard, IOptions<WebhookOptions> options, TimeProvider time)
    {
        _time = time;
        _client = new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseProxy = false,
            ConnectCallback = guard.ConnectAsync,
            ConnectTimeout = options.Value.Timeout,
            // DNS answers change: a pooled connection is not kept forever.
            PooledConnectionLifetime = TimeSpan.FromMinutes(1),
        })
        {
            Timeout = options.Value.Timeout,
        };
        _client.DefaultRequestHeaders.UserAgent.ParseAdd("Tollgate-Webhooks/1");
    }

    public async Task<SendResult> SendAsync(string url, string secret, string webhookId, string payload, CancellationToken ct)
    {
        var timestamp = _time.GetUtcNow();
        var signature = new StandardWebhook(secret).Sign(webhookId, timestamp, payload);
        using var request = new HttpRequestMessage(HttpMethod.Post, url)
        {
            Content = new StringContent(payload, Encoding.UTF8, "application/json"),
        };
        request.Headers.TryAddWithoutValidation("webhook-id", webhookId);
        request.Headers.TryAddWithoutValidation("webhook-timestamp", timestamp.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.TryAddWithoutValidation("webhook-signature", signature);
        try
        {
            using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
            var status = (int)response.StatusCode;
            return new SendResult(status, response.IsSuccessStatusCode ? null : $"The receiver answered {status}.");
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return new SendResult(null, $"No answer within {_client.Timeout.TotalSeconds:0.#} s.");
        }
        catch (HttpRequestException ex)
        {
            var message = ex.InnerException is { } inner && !ex.Message.Contains(inner.Message, StringComparison.Ordinal)
                ? $"{ex.Message} {inner.Message}"
                : ex.Message;
            return new SendResult(null, message);
        }
    }

    public void Dispose() => _client.Dispose();
}
