using System.Diagnostics.Metrics;
using Tollgate.Limits;
using Tollgate.Usage;

namespace Tollgate.Operations;

/// <summary>
/// Tollgate's own instruments, on the meter <c>Tollgate</c> (exported at <c>/metrics</c>). Everything is counted
/// off the request path: events by the usage writer, gauges read when scraped.
/// </summary>
public sealed class TollgateMetrics
{
    /// <summary>The meter name.</summary>
    public const string MeterName = "Tollgate";

    private readonly Counter<long> _events;

    /// <summary>Creates the instruments.</summary>
    public TollgateMetrics(IMeterFactory meters, IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(meters);
        var meter = meters.Create(MeterName);
        _events = meter.CreateCounter<long>("tollgate.usage.events", "{event}", "Metered requests stored, by outcome");
        meter.CreateObservableGauge("tollgate.usage.queue.length", () => services.GetRequiredService<UsageQueue>().Count,
            "{event}", "Usage events waiting for the writer");
        meter.CreateObservableGauge("tollgate.limits.shared.degraded",
            () => services.GetService<RedisLimitStore>() is { Degraded: true } ? 1 : 0,
            description: "1 while Redis is unreachable and limits are per instance (Open) or refused (Closed)");
        meter.CreateObservableGauge("tollgate.usage.storage.state", () => (int)services.GetRequiredService<UsageStorageStatus>().State,
            description: "Where usage events go: 0 the database, 1 the spool, 2 nowhere and rows are dropped (Admit), 3 nowhere and requests are refused (Refuse)");
        meter.CreateObservableGauge("tollgate.usage.spool.events", () => services.GetRequiredService<UsageStorageStatus>().SpooledEvents,
            "{event}", "Usage events in the spool, waiting to be replayed into the database");
        meter.CreateObservableCounter("tollgate.usage.dropped", () => services.GetRequiredService<UsageStorageStatus>().DroppedRows,
            "{row}", "Raw usage rows dropped because neither the database nor the spool took them (WhenStorageFails=Admit)");
        meter.CreateObservableCounter("tollgate.usage.refused", () => services.GetRequiredService<UsageStorageStatus>().RefusedRequests,
            "{request}", "Metered requests answered 503 because their usage could not be recorded (WhenStorageFails=Refuse)");
    }

    /// <summary>Counts a stored batch by outcome.</summary>
    public void Stored(UsageBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        long admitted = 0, rate = 0, quota = 0;
        foreach (var e in batch.Events)
        {
            switch (e.Outcome)
            {
                case LimitOutcome.Admitted: admitted++; break;
                case LimitOutcome.RateLimited: rate++; break;
                default: quota++; break;
            }
        }

        Add(admitted, LimitOutcome.Admitted);
        Add(rate, LimitOutcome.RateLimited);
        Add(quota, LimitOutcome.QuotaExceeded);
    }

    private void Add(long count, LimitOutcome outcome)
    {
        if (count > 0)
        {
            _events.Add(count, new KeyValuePair<string, object?>("outcome", outcome.ToString()));
        }
    }
}
