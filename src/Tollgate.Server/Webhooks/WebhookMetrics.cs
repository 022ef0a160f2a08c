using System.Diagnostics.Metrics;

namespace Tollgate.Webhooks;

/// <summary>The webhooks' instruments, on the meter <c>Tollgate.Webhooks</c> (exported at <c>/metrics</c>).</summary>
public sealed class WebhookMetrics
{
    /// <summary>The meter name.</summary>
    public const string MeterName = "Tollgate.Webhooks";

    private readonly Counter<long> _deliveries;

    /// <summary>Creates the instruments.</summary>
    public WebhookMetrics(IMeterFactory meters)
    {
        ArgumentNullException.ThrowIfNull(meters);
        _deliveries = meters.Create(MeterName).CreateCounter<long>(
            "tollgate.webhook.deliveries", "{attempt}",
            "Webhook delivery attempts by result: delivered, retrying (will be tried again), failed (no retry left), gone (410: endpoint disabled)");
    }

    /// <summary>Counts one attempt.</summary>
    public void Attempted(string result) => _deliveries.Add(1, new KeyValuePair<string, object?>("result", result));
}
