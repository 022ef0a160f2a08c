namespace Tollgate;

/// <summary>The identity of a quota counter row.</summary>
/// <param name="TenantId">Tenant.</param>
/// <param name="Period">Period kind.</param>
/// <param name="PeriodStart">Start of the period (UTC).</param>
public readonly record struct QuotaKey(long TenantId, QuotaPeriod Period, DateTime PeriodStart);
