namespace Tollgate.Admin;

/// <summary>Sums of a group of roll-ups, computed by the database (the latency sketches are merged apart).</summary>
/// <typeparam name="TKey">What the roll-ups were grouped by.</typeparam>
internal sealed class RollupSums<TKey>
{
    /// <summary>The group's key.</summary>
    public required TKey Key { get; init; }

    /// <summary>Sum of the latencies, in microseconds.</summary>
    public long LatencySum { get; init; }

    /// <summary>Sum of the upstream latencies (gateway routes), in microseconds.</summary>
    public long UpstreamLatencySum { get; init; }

    /// <summary>Metered requests, refused ones included.</summary>
    public long Requests { get; init; }

    /// <summary>Admitted requests answered 4xx or 5xx.</summary>
    public long Errors { get; init; }

    /// <summary>Requests refused by a limit.</summary>
    public long Rejected { get; init; }
}
