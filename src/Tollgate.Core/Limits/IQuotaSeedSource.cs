namespace Tollgate.Limits;

/// <summary>
/// Tells a limit store how many requests were already admitted in a period before it started counting, so a
/// restart never resets a tenant's usage.
/// </summary>
public interface IQuotaSeedSource
{
    /// <summary>Admitted requests stored for the tenant in the period that starts at <paramref name="periodStart"/>.</summary>
    ValueTask<long> GetUsedAsync(long tenantId, QuotaPeriod period, DateTime periodStart, CancellationToken cancellationToken);

    /// <summary>
    /// What a shared counter (Redis) rebuilt for the period starts from: the stored admissions less those that
    /// instances admitted on their own while Redis was away and will add to the shared counter themselves.
    /// </summary>
    ValueTask<long> GetSharedSeedAsync(long tenantId, QuotaPeriod period, DateTime periodStart, CancellationToken cancellationToken);

    /// <summary>Makes the next <see cref="GetUsedAsync"/> for the tenant read the database, not a preloaded value.</summary>
    void Forget(long tenantId);
}

/// <summary>
/// Where a limit store reports that admissions it made on its own while the shared store was unreachable (counted
/// as unshared in <c>quota_counters</c>) are now in the shared counter.
/// </summary>
public interface IUnsharedAdmissions
{
    /// <summary>Lowers the stored unshared count of the period by <paramref name="count"/>.</summary>
    void MarkShared(long tenantId, QuotaPeriod period, DateTime periodStart, long count);
}
