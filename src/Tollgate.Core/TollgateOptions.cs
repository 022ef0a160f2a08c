namespace Tollgate;

/// <summary>What an instance does when Redis cannot be reached.</summary>
public enum RedisFailureMode
{
    /// <summary>Fall back to per-instance limits and keep serving; shared limits resume when Redis is back.</summary>
    Open,

    /// <summary>Answer metered requests with 503 until Redis is back.</summary>
    Closed,
}

/// <summary>Options bound from the <c>Tollgate</c> section itself (CONTRACT §1).</summary>
public sealed class TollgateOptions
{
    /// <summary>Configuration section.</summary>
    public const string Section = "Tollgate";

    /// <summary>On first start of an empty database, create the demo tenants. Default false.</summary>
    public bool Demo { get; set; }

    /// <summary>
    /// A StackExchange.Redis configuration string. When set, limits, revocations and live counters are shared
    /// through Redis by every instance. Default: unset (in-process).
    /// </summary>
    public string? Redis { get; set; }

    /// <summary>What to do when Redis is unreachable. Default <see cref="RedisFailureMode.Open"/>.</summary>
    public RedisFailureMode RedisFailureMode { get; set; } = RedisFailureMode.Open;
}
