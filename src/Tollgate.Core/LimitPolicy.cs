namespace Tollgate;

/// <summary>The limits in force for one tenant: its plan's, with the tenant's overrides applied.</summary>
/// <param name="QuotaLimit">Admitted requests allowed per period.</param>
/// <param name="QuotaPeriod">The calendar period of the quota.</param>
/// <param name="RateLimit">Requests allowed per rate window; null for no rate limit.</param>
/// <param name="RateWindowSeconds">Length of the rate window in seconds.</param>
public sealed record LimitPolicy(long QuotaLimit, QuotaPeriod QuotaPeriod, int? RateLimit, int? RateWindowSeconds)
{
    /// <summary>Whether a rate limit applies.</summary>
    public bool HasRate => RateLimit is not null && RateWindowSeconds is > 0;
}

/// <summary>Where a tenant stands against its quota.</summary>
public enum UsageStatus
{
    /// <summary>Below 80 % of the quota.</summary>
    Normal,

    /// <summary>At or above 80 % of the quota.</summary>
    Warning,

    /// <summary>The quota is used up.</summary>
    Blocked,
}

/// <summary>What the limits decided for a request.</summary>
public enum LimitOutcome
{
    /// <summary>Served and counted against the quota.</summary>
    Admitted,

    /// <summary>Refused: too many requests in the rate window.</summary>
    RateLimited,

    /// <summary>Refused: the quota of the period is used up.</summary>
    QuotaExceeded,
}

/// <summary>A tenant's quota usage in the current period.</summary>
/// <param name="Used">Admitted requests so far.</param>
/// <param name="Limit">The quota.</param>
/// <param name="Period">The period kind.</param>
/// <param name="PeriodStart">Start of the current period (UTC).</param>
/// <param name="ResetAt">When the next period starts (UTC).</param>
public readonly record struct QuotaUsage(long Used, long Limit, QuotaPeriod Period, DateTime PeriodStart, DateTime ResetAt)
{
    /// <summary>Requests left in the period, never negative.</summary>
    public long Remaining => Math.Max(0, Limit - Used);

    /// <summary>Normal below 80 %, Warning from 80 %, Blocked at 100 %.</summary>
    public UsageStatus Status => StatusOf(Used, Limit);

    /// <summary>The status for a count against a limit.</summary>
    public static UsageStatus StatusOf(long used, long limit) =>
        used >= limit ? UsageStatus.Blocked
        // 5 * used >= 4 * limit is "used >= 80 % of limit" without floating point.
        : 5 * used >= 4 * limit ? UsageStatus.Warning
        : UsageStatus.Normal;
}

/// <summary>The answer of the limit store for one request, with everything the rate-limit headers need.</summary>
/// <param name="Outcome">Admitted or why not.</param>
/// <param name="Quota">The quota after this request.</param>
/// <param name="RateLimit">The rate limit, 0 when none applies.</param>
/// <param name="RateWindowSeconds">Length of the rate window, 0 when no rate limit applies.</param>
/// <param name="RateRemaining">Requests left in the rate window after this request.</param>
/// <param name="RateResetAt">End of the current rate window (UTC).</param>
public readonly record struct LimitDecision(
    LimitOutcome Outcome,
    QuotaUsage Quota,
    int RateLimit,
    int RateWindowSeconds,
    int RateRemaining,
    DateTime RateResetAt)
{
    /// <summary>Whether the request may proceed.</summary>
    public bool Admitted => Outcome == LimitOutcome.Admitted;

    /// <summary>Whether a rate limit applies.</summary>
    public bool HasRate => RateLimit > 0;

    /// <summary>
    /// Admitted on this instance's own count because the shared store (Redis) was unreachable; the instance adds it
    /// to the shared counter when Redis answers again.
    /// </summary>
    public bool Unshared { get; init; }
}
