using System.ComponentModel.DataAnnotations;

namespace Tollgate.Usage;

/// <summary>Options bound from <c>Tollgate:Usage</c>.</summary>
public sealed class UsageOptions
{
    /// <summary>Configuration section.</summary>
    public const string Section = "Tollgate:Usage";

    /// <summary>
    /// Which requests get a raw <c>usage_logs</c> row: <see cref="RawLogPolicy.All"/> (default),
    /// <see cref="RawLogPolicy.ErrorsAndRefusals"/>, or <see cref="RawLogPolicy.Sample"/> (admitted successes 1 in
    /// <see cref="RawLogSampleRate"/>; errors and refusals always). Roll-ups, quota counters and alerts count every
    /// request whatever the policy: the raw log is for looking at requests, not for counting them.
    /// </summary>
    public RawLogPolicy RawLogs { get; set; } = RawLogPolicy.All;

    /// <summary>With <see cref="RawLogPolicy.Sample"/>: one admitted success in this many gets a raw row. Default 100.</summary>
    [Range(1, 1_000_000)]
    public int RawLogSampleRate { get; set; } = 100;

    /// <summary>
    /// Whether the event gets a raw row under <see cref="RawLogs"/>. A pure function of the event, so a batch replayed
    /// from the spool or written again after a failure keeps exactly the same rows.
    /// </summary>
    public bool KeepsRawRow(in UsageEvent e)
    {
        if (RawLogs == RawLogPolicy.All || e.Outcome != LimitOutcome.Admitted || e.StatusCode >= 400)
        {
            return true;
        }

        if (RawLogs == RawLogPolicy.ErrorsAndRefusals)
        {
            return false;
        }

        // SplitMix64 of the arrival time (100 ns ticks) and the key: evenly spread, and the same on every replay.
        var x = (ulong)e.Timestamp.Ticks ^ ((ulong)e.ApiKeyId * 0x9E3779B97F4A7C15UL);
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        x ^= x >> 31;
        return x % (ulong)RawLogSampleRate == 0;
    }

    /// <summary>
    /// How often the writer writes keys' <c>api_keys.last_used_at</c>: the uses of each interval are gathered and written
    /// once, in key order, with the latest time seen, so the stored time is a key's last use to within this interval.
    /// Default 1 minute. Written with every batch instead, a million keys used at random cost an update of a random page
    /// per request (bench/run scale: 22,000 against 60,000 req/s). 0 writes every use with its batch.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan LastUsedResolution { get; set; } = TimeSpan.FromMinutes(1);

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
    /// How long the writer lets events gather after storing a batch that was not full. Default 50 ms; zero writes
    /// whatever has arrived at once. Measured with bench/ on 2 cores shared with wrk:
    /// <list type="bullet">
    /// <item>Request path: fewer wake-ups and commits leave requests more CPU. A commit costs about 0.75 ms of CPU
    /// whatever its size (every page it touches is written again to the WAL, about 50 write calls, plus the roll-up,
    /// counter and key upserts). Ping flat out, server CPU per request: about 25 µs at zero, 29.2 µs at 10 ms (about 70
    /// commits a second) and 28.3 µs at 50 ms (about 18), medians of six alternating 10-s rounds, 2026-12-01; the
    /// same load's p99 moved by less than its noise (2.6–3.1 against 2.8–3.3 ms at 15,000 req/s).</item>
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
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// How long the writer lets events gather after a batch of fewer than <see cref="QuietBatchEvents"/> events, instead
    /// of <see cref="FlushInterval"/>. Default 100 ms; at or below <see cref="FlushInterval"/> it changes nothing. At low
    /// request rates each event would otherwise be a transaction of its own (raw row, three roll-up tiers, quota counter,
    /// about 16 page writes), and the wake-ups and commits cost far more than the request: with 100,000 tenants and one
    /// client pinging 50 times a second, the server used 10.9 % of a core without this gather and 6.5 % with it (medians
    /// of six 20-s windows each, alternating, 2-core VM; bench/Baseline alone uses 3.3–6.3 % at that rate).
    /// Under load batches are large and <see cref="FlushInterval"/> applies. What it costs: stored rows and the live
    /// board see a quiet tenant's events up to this much later, and a crash can lose up to this long of a quiet server's
    /// events (fewer than <see cref="QuietBatchEvents"/> per interval, by definition).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:10")]
    public TimeSpan QuietFlushInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>A batch smaller than this is a quiet one, followed by <see cref="QuietFlushInterval"/>.</summary>
    public const int QuietBatchEvents = 16;

    /// <summary>
    /// When a metered answer may leave. Default <see cref="UsageDurability.Buffered"/>: as soon as its event is
    /// queued. <see cref="UsageDurability.Synchronous"/>: only once its event is stored, so a crash loses none.
    /// </summary>
    public UsageDurability Durability { get; set; } = UsageDurability.Buffered;

    /// <summary>
    /// The folder of the spool: when the database cannot take a batch (down, full, read-only, too slow), the writer
    /// appends it to a file here (fsync'd) and replays it into the database, in order and exactly once, when the
    /// database answers again. A relative path is resolved against the content root. Default <c>usage-spool</c>. Give
    /// every process its own folder on local disk: a second process on the same folder fails at its first spooled
    /// batch (the file is locked) and then follows <see cref="WhenStorageFails"/>.
    /// </summary>
    [Required]
    public string SpoolPath { get; set; } = "usage-spool";

    /// <summary>
    /// What happens when neither the database nor the spool can take usage events (the spool's disk is full too).
    /// Default <see cref="StorageFailurePolicy.Refuse"/>.
    /// </summary>
    public StorageFailurePolicy WhenStorageFails { get; set; } = StorageFailurePolicy.Refuse;

    /// <summary>
    /// The longest a metered request waits for room in the queue (or, with synchronous durability, for its event to
    /// be stored or spooled). After it, <see cref="WhenStorageFails"/> decides: 503 or serve without the raw row.
    /// Default 2 s.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan MaxRecordWait { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long the writer gives the database for one batch before it diverts the batch to the spool. Default 5 s:
    /// far above a 50,000-event batch on any of the three databases (bench/run databases: under 1 s on MariaDB, the
    /// slowest), and short enough that the 100,000-event queue does not fill at the 2-core benchmark machine's
    /// 22,000 requests/s. A batch given up on may still commit late; its mark makes the replay skip it.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan StorageTimeout { get; set; } = TimeSpan.FromSeconds(5);
}

/// <summary>What Tollgate does when usage events can be stored neither in the database nor in the spool.</summary>
public enum StorageFailurePolicy
{
    /// <summary>
    /// Metered requests get 503 problem+json with <c>Retry-After</c>, decided before the limits count them: nothing is
    /// admitted that cannot be recorded. Events of requests already admitted are kept in memory until storage returns.
    /// </summary>
    Refuse,

    /// <summary>
    /// Keep serving: raw <c>usage_logs</c> rows are dropped and counted exactly (<c>tollgate_usage_dropped_total</c> on
    /// /metrics, and the dashboard); their roll-ups, quota counts and keys' last use are kept in memory and stored when
    /// the database answers again.
    /// </summary>
    Admit,
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

/// <summary>Which metered requests get a raw <c>usage_logs</c> row (<c>Tollgate:Usage:RawLogs</c>).</summary>
public enum RawLogPolicy
{
    /// <summary>Every request.</summary>
    All,

    /// <summary>Only requests answered 4xx/5xx and requests refused by a limit.</summary>
    ErrorsAndRefusals,

    /// <summary>Errors and refusals, and admitted successes 1 in <see cref="UsageOptions.RawLogSampleRate"/>.</summary>
    Sample,
}
