using System.ComponentModel.DataAnnotations;

namespace Tollgate.Usage;

/// <summary>Options bound from <c>Tollgate:Usage</c>.</summary>
public sealed class UsageOptions
{
    /// <summary>Configuration section.</summary>
    public const string Section = "Tollgate:Usage";

    /// <summary>
    /// Events the in-memory queue holds before requests wait for the writer. Default 100,000: a few seconds of
    /// peak traffic, about 10 MB.
    /// </summary>
    [Range(1, 10_000_000)]
    public int QueueCapacity { get; set; } = 100_000;

    /// <summary>
    /// Most events stored in one transaction. Default 50,000. Large batches matter with many tenants: each batch
    /// dirties about one index page per tenant, so the cost of a page is shared by more rows (bench/run's ingestion
    /// harness, 1,000 tenants: 94,000 events/s with 5,000, 166,000 with 50,000).
    /// </summary>
    [Range(1, 1_000_000)]
    public int BatchSize { get; set; } = 50_000;

    /// <summary>
    /// How long the writer lets events gather after storing a batch that was not full. Default 10 ms; zero writes
    /// whatever has arrived at once. Measured with bench/ on 2 cores shared with wrk:
    /// <list type="bullet">
    /// <item>Request path: fewer wake-ups and commits leave requests more CPU (ping flat out, server CPU per request:
    /// about 25 µs at zero, 21–22 µs at 10 ms and at 100 ms alike).</item>
    /// <item>Tail latency: the writer works in bursts of one interval's events; p99 of ping at 22,000 req/s was
    /// 2.0–2.2 ms at 10 ms (as with the writer before the interval existed) and 2.6–3.2 ms at 100 ms.</item>
    /// <item>Many tenants: a batch touches about one index page per tenant, so longer intervals share each page among
    /// more rows (ingest --rate 30000 --tenants 1000: 19–20 µs of CPU per event at 10 ms, 12.6 µs at 100 ms, 10 µs
    /// at 250 ms; 32 µs with the writer as it was before this option). Deployments with many tenants and moderate
    /// traffic may prefer 100 ms.</item>
    /// </list>
    /// The interval also bounds what a crash (SIGKILL, power loss of the process) loses: the events of the last
    /// interval, plus the batch being written and, under overload, what waits in the queue. A graceful stop loses
    /// nothing.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:10")]
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromMilliseconds(10);

    /// <summary>
    /// When a metered answer may leave. Default <see cref="UsageDurability.Buffered"/>: as soon as its event is
    /// queued. <see cref="UsageDurability.Synchronous"/>: only once its event is stored, so a crash loses none.
    /// </summary>
    public UsageDurability Durability { get; set; } = UsageDurability.Buffered;
}

/// <summary>How durable a metered request's usage record is when its answer leaves.</summary>
public enum UsageDurability
{
    /// <summary>
    /// Queued in memory: the request never waits for the database. A graceful stop stores everything; a crash
    /// (SIGKILL, power loss) loses what was queued and not yet written, the events of the last flush interval.
    /// </summary>
    Buffered,

    /// <summary>
    /// The answer is held until the usage writer has committed the event: nothing admitted is ever lost. On SQLite
    /// each commit then waits for the WAL's fsync (<c>synchronous=FULL</c>), so power loss loses nothing either;
    /// PostgreSQL and MySQL commit durably with their default settings.
    /// </summary>
    Synchronous,
}
