using Tollgate.Keys;

namespace Tollgate.Limits;

/// <summary>
/// Counts requests against tenants' quotas and rates and decides, atomically, whether one more may pass.
/// The in-process store is the default; a Redis store shares the counts between instances.
/// </summary>
public interface ILimitStore
{
    /// <summary>
    /// Decides one request: admits it and counts it when both the quota and the rate allow, refuses it otherwise.
    /// Exact under any concurrency: the number admitted in a period never exceeds the quota.
    /// </summary>
    ValueTask<LimitDecision> AcquireAsync(TenantContext tenant, CancellationToken cancellationToken = default) =>
        AcquireAsync(tenant, 1, cancellationToken);

    /// <summary>
    /// Decides one request that costs <paramref name="cost"/> units (a gateway route's <c>cost</c>): admitted only when
    /// the quota and the rate each have that many units left, and then counted as that many. Exact under any
    /// concurrency: the units admitted in a period never exceed the quota.
    /// </summary>
    ValueTask<LimitDecision> AcquireAsync(TenantContext tenant, int cost, CancellationToken cancellationToken = default);

    /// <summary>The tenant's quota usage in the current period, without counting anything.</summary>
    ValueTask<QuotaUsage> PeekAsync(TenantContext tenant, CancellationToken cancellationToken = default);

    /// <summary>
    /// True while a shared store cannot reach what it shares through (Redis) and limits are per instance (Open) or
    /// refused (Closed); an in-process store never is.
    /// </summary>
    bool Degraded => false;

    /// <summary>Drops what the store knows of a tenant, so its next use reloads the count from the database.</summary>
    void Forget(long tenantId);
}
