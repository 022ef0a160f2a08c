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
}
