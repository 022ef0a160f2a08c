namespace Tollgate.Admin;

/// <summary>
/// One tenant's usage in one calendar month (UTC), from the day roll-ups: what a finance team invoices from. Answer of
/// <c>GET /api/admin/tenants/{id}/statements</c> (a list, newest first) and <c>…/statements/{month}</c>.
/// </summary>
/// <param name="TenantId">The tenant.</param>
/// <param name="TenantName">The tenant's name now.</param>
/// <param name="Plan">
/// The tenant's plan now. Plans are not kept per month: a plan change during the month is in the audit log.
/// </param>
/// <param name="Month">The month, <c>YYYY-MM</c>.</param>
/// <param name="From">The month's first instant (UTC).</param>
/// <param name="To">The next month's first instant (UTC): the month's end, exclusive.</param>
/// <param name="Requests">Metered requests, refused ones included.</param>
/// <param name="Admitted">Requests the limits admitted (what counts against the quota).</param>
/// <param name="RateLimited">Requests refused by the rate.</param>
/// <param name="QuotaExceeded">Requests refused by the quota.</param>
/// <param name="Errors">Admitted requests answered 4xx or 5xx.</param>
/// <param name="P50Ms">Median latency of the month's requests, in milliseconds; null without traffic.</param>
/// <param name="P95Ms">95th percentile latency in milliseconds; null without traffic.</param>
/// <param name="P99Ms">99th percentile latency in milliseconds; null without traffic.</param>
/// <param name="Complete">False while the month is not over: its figures can still grow.</param>
public sealed record StatementDto(
    long TenantId, string TenantName, string Plan, string Month, DateTime From, DateTime To,
    long Requests, long Admitted, long RateLimited, long QuotaExceeded, long Errors,
    double? P50Ms, double? P95Ms, double? P99Ms, bool Complete);
