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
    /// How long the writer lets events gather after storing a batch that was not full. Default 100 ms; zero writes
    /// whatever has arrived at once. Fewer, larger transactions and fewer wake-ups of the writer leave the request path
    /// more CPU (ping under wrk on 2 cores, server CPU per request, median of 3 runs, twice: 24.9 and 26.1 µs at
    /// zero, 22.3 and 21.1 µs at 100 ms), and with many tenants each batch touches fewer index pages per row
    /// (bench/Tollgate.Benchmarks ingest --rate 30000, 1,000 tenants: 20 µs of CPU per event at 10 ms, 12 µs at
    /// 100 ms, 10 µs at 250 ms). Shorter intervals shorten the writer's bursts, which a single busy tenant's p99 sees
    /// (22,000 req/s on 2 cores: 2.0 ms at 10 ms, 2.8 ms at 100 ms). The interval also bounds what a crash (SIGKILL,
    /// power loss of the process) loses: the events of the last interval, plus the batch being written and, under
    /// overload, what waits in the queue. A graceful stop loses nothing.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:10")]
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromMilliseconds(100);

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

    /// <summary>The answer is held until the usage writer has committed the event: nothing admitted is ever lost.</summary>
    Synchronous,
}
