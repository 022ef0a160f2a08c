using System.Diagnostics.Metrics;
using Tollgate.Limits;
using Tollgate.Usage;

namespace Tollgate.Operations;

/// <summary>
/// The usage pipeline's instruments, on the meter <c>Tollgate.Usage</c> (exported at <c>/metrics</c>). Everything is
/// counted off the request path: events, batch sizes and commit times by the usage writer, gauges read when scraped.
/// </summary>
public sealed class TollgateMetrics
{
    /// <summary>The meter name.</summary>
    public const string MeterName = "Tollgate.Usage";

    private readonly Counter<long> _events;
    private readonly Histogram<long> _batchSize;
    private readonly Histogram<double> _commitDuration;

    /// <summary>Creates the instruments.</summary>
    public TollgateMetrics(IMeterFactory meters, IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(meters);
        var meter = meters.Create(MeterName);
        _events = meter.CreateCounter<long>("tollgate.usage.events", "{event}", "Metered requests stored, by outcome");
        _batchSize = meter.CreateHistogram<long>("tollgate.usage.batch.size", "{event}", "Events stored per transaction",
            advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = [1, 10, 100, 1_000, 10_000, 50_000, 100_000] });
        _commitDuration = meter.CreateHistogram<double>("tollgate.usage.commit.duration", "s",
            "Time to store one batch, retries included",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });
        meter.CreateObservableGauge("tollgate.usage.queue.length", () => services.GetRequiredService<UsageQueue>().Count,
            "{event}", "Usage events waiting for the writer");
        meter.CreateObservableGauge("tollgate.usage.queue.capacity", () => services.GetRequiredService<UsageQueue>().Capacity,
            "{event}", "Usage events the queue holds before requests wait for the writer");
        meter.CreateObservableGauge("tollgate.usage.lag", () => services.GetRequiredService<UsageQueue>().OldestAge(services.GetRequiredService<TimeProvider>()).TotalSeconds,
            "s", "Age of the oldest usage event still waiting for the writer (0 when none waits)");
        meter.CreateObservableGauge("tollgate.limits.shared.degraded",
            () => services.GetService<RedisLimitStore>() is { Degraded: true } ? 1 : 0,
            description: "1 while Redis is unreachable and limits are per instance (Open) or refused (Closed)");
    }

    /// <summary>Counts a stored batch by outcome, with its size and the time its storing took.</summary>
    public void Stored(UsageBatch batch, TimeSpan took)
    {
        ArgumentNullException.ThrowIfNull(batch);
        _batchSize.Record(batch.Count);
        _commitDuration.Record(took.TotalSeconds);
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
