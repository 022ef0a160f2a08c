namespace Tollgate.Limits;

/// <summary>
/// Tells a limit store how many requests were already admitted in a period before it started counting, so a
/// restart never resets a tenant's usage.
/// </summary>
public interface IQuotaSeedSource
{
    /// <summary>Admitted requests stored for the tenant in the period that starts at <paramref name="periodStart"/>.</summary>
    ValueTask<long> GetUsedAsync(long tenantId, QuotaPeriod period, DateTime periodStart, CancellationToken cancellationToken);

    /// <summary>Makes the next <see cref="GetUsedAsync"/> for the tenant read the database, not a preloaded value.</summary>
    void Forget(long tenantId);
}
