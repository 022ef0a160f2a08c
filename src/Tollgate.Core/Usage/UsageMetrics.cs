using System.Diagnostics.Metrics;
using Tollgate.Limits;

namespace Tollgate.Usage;

/// <summary>
/// The usage pipeline's instruments, on the meter <c>Tollgate.Usage</c> (exported at <c>/metrics</c>). Everything is
/// counted off the request path: events, batch sizes and commit times by the usage writer, rows deleted and run times by
/// the retention clean-up, gauges read when scraped.
/// </summary>
public sealed class UsageMetrics
{
    /// <summary>The meter name.</summary>
    public const string MeterName = "Tollgate.Usage";

    private readonly Counter<long> _events;
    private readonly Histogram<long> _batchSize;
    private readonly Histogram<double> _commitDuration;
    private readonly Counter<long> _retentionDeleted;
    private readonly Histogram<double> _retentionDuration;

    /// <summary>Creates the instruments.</summary>
    public UsageMetrics(IMeterFactory meters, IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(meters);
        var meter = meters.Create(MeterName);
        _events = meter.CreateCounter<long>("tollgate.usage.events", "{event}", "Metered requests stored, by outcome");
        _batchSize = meter.CreateHistogram<long>("tollgate.usage.batch.size", "{event}", "Events stored per transaction",
            advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = [1, 10, 100, 1_000, 10_000, 50_000, 100_000] });
        _commitDuration = meter.CreateHistogram<double>("tollgate.usage.commit.duration", "s",
            "Time one batch takes to commit in the database",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });
        _retentionDeleted = meter.CreateCounter<long>("tollgate.retention.deleted", "{row}",
            "Expired usage rows deleted by the retention clean-up, by table (tag tollgate.retention.table)");
        _retentionDuration = meter.CreateHistogram<double>("tollgate.retention.duration", "s",
            "Time one retention clean-up run took, deletes and space reclaimed",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.01, 0.1, 1, 10, 60, 300, 900, 3600] });
        meter.CreateObservableGauge("tollgate.usage.queue.length", () => services.GetRequiredService<UsageQueue>().Count,
            "{event}", "Usage events waiting for the writer");
        meter.CreateObservableGauge("tollgate.usage.queue.capacity", () => services.GetRequiredService<UsageQueue>().Capacity,
            "{event}", "Usage events the queue holds before requests wait for the writer");
        meter.CreateObservableGauge("tollgate.usage.lag", () => services.GetRequiredService<UsageQueue>().OldestAge(services.GetRequiredService<TimeProvider>()).TotalSeconds,
            "s", "Age of the oldest usage event still waiting for the writer (0 when none waits)");
        meter.CreateObservableGauge("tollgate.limits.shared.degraded",
            () => services.GetRequiredService<ILimitStore>().Degraded ? 1 : 0,
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

    /// <summary>The time one batch took to commit in the database.</summary>
    public void Committed(TimeSpan took) => _commitDuration.Record(took.TotalSeconds);

    /// <summary>Counts rows of <paramref name="table"/> deleted by the retention clean-up.</summary>
    public void RetentionDeleted(string table, long rows) =>
        _retentionDeleted.Add(rows, new KeyValuePair<string, object?>("tollgate.retention.table", table));

    /// <summary>The time one retention clean-up run took.</summary>
    public void RetentionRan(TimeSpan took) => _retentionDuration.Record(took.TotalSeconds);

    /// <summary>Counts a recorded batch (in the database or the spool) by outcome, and its size.</summary>
    public void Stored(UsageBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        _batchSize.Record(batch.Count);
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
