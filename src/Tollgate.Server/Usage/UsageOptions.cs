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

    /// <summary>Most events stored in one transaction. Default 5,000.</summary>
    [Range(1, 1_000_000)]
    public int BatchSize { get; set; } = 5_000;

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
    /// (SIGKILL, power loss) loses what was queued and not yet written, at most one write's worth.
    /// </summary>
    Buffered,

    /// <summary>The answer is held until the usage writer has committed the event: nothing admitted is ever lost.</summary>
    Synchronous,
}
