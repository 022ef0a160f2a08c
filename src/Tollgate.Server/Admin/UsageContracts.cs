using Tollgate.Limits;

namespace Tollgate.Admin;

// The answers of the usage read side (/api/admin/usage, /usage/endpoints, /usage/status-codes and /logs), read by
// UsageApi and the pages only.

/// <summary>One time bucket of a usage series.</summary>
/// <param name="Start">Start of the bucket (UTC).</param>
/// <param name="Requests">Metered requests, refused ones included.</param>
/// <param name="Errors">Admitted requests answered 4xx or 5xx.</param>
/// <param name="Rejected">Requests refused by a limit (rate or quota).</param>
/// <param name="P50Ms">Median latency in milliseconds; null without traffic.</param>
/// <param name="P95Ms">95th percentile latency in milliseconds; null without traffic.</param>
/// <param name="P99Ms">99th percentile latency in milliseconds; null without traffic.</param>
public sealed record UsagePointDto(DateTime Start, long Requests, long Errors, long Rejected, double? P50Ms, double? P95Ms, double? P99Ms);

/// <summary>Answer of <c>GET /api/admin/usage</c>: one point per bucket of the range, empty buckets included.</summary>
/// <param name="TenantId">The tenant, or null for every tenant the admin may see.</param>
/// <param name="Bucket">minute, hour or day.</param>
/// <param name="From">Start of the first bucket (UTC).</param>
/// <param name="To">End of the range, exclusive (UTC).</param>
/// <param name="Points">The buckets, oldest first.</param>
public sealed record UsageSeriesDto(long? TenantId, string Bucket, DateTime From, DateTime To, IReadOnlyList<UsagePointDto> Points);

/// <summary>Usage of one endpoint over a range.</summary>
/// <param name="Method">HTTP method.</param>
/// <param name="Endpoint">Route template.</param>
/// <param name="Requests">Metered requests.</param>
/// <param name="Errors">Admitted requests answered 4xx or 5xx.</param>
/// <param name="Rejected">Requests refused by a limit.</param>
/// <param name="ErrorRate">Errors over requests, 0 to 1.</param>
/// <param name="P50Ms">Median latency in milliseconds.</param>
/// <param name="P95Ms">95th percentile latency in milliseconds.</param>
/// <param name="P99Ms">99th percentile latency in milliseconds.</param>
/// <param name="MeanMs">Mean latency in milliseconds.</param>
/// <param name="OwnMeanMs">
/// Of <paramref name="MeanMs"/>, the part that was Tollgate's own: for a gateway route, the mean less the time its
/// upstream took; for a hosted endpoint, all of it.
/// </param>
public sealed record EndpointUsageDto(
    string Method, string Endpoint, long Requests, long Errors, long Rejected, double ErrorRate, double? P50Ms, double? P95Ms, double? P99Ms,
    double? MeanMs, double? OwnMeanMs);

/// <summary>Answer of <c>GET /api/admin/usage/endpoints</c>, busiest endpoint first.</summary>
/// <param name="TenantId">The tenant, or null for every tenant.</param>
/// <param name="From">Start of the range (UTC).</param>
/// <param name="To">End of the range, exclusive (UTC).</param>
/// <param name="Endpoints">One row per method and route template.</param>
public sealed record EndpointUsageListDto(long? TenantId, DateTime From, DateTime To, IReadOnlyList<EndpointUsageDto> Endpoints);

/// <summary>Requests answered with one status code.</summary>
/// <param name="StatusCode">HTTP status code.</param>
/// <param name="Requests">Metered requests answered with it.</param>
public sealed record StatusCodeUsageDto(int StatusCode, long Requests);

/// <summary>Answer of <c>GET /api/admin/usage/status-codes</c>, lowest code first.</summary>
/// <param name="TenantId">The tenant, or null for every tenant.</param>
/// <param name="From">Start of the range (UTC).</param>
/// <param name="To">End of the range, exclusive (UTC).</param>
/// <param name="StatusCodes">One row per status code seen.</param>
public sealed record StatusCodeUsageListDto(long? TenantId, DateTime From, DateTime To, IReadOnlyList<StatusCodeUsageDto> StatusCodes);

/// <summary>One metered request as the request log shows it.</summary>
/// <param name="Id">Row id.</param>
/// <param name="Timestamp">When the request arrived (UTC).</param>
/// <param name="TenantId">The calling tenant.</param>
/// <param name="ApiKeyId">The key used.</param>
/// <param name="Method">HTTP method.</param>
/// <param name="Endpoint">Route template.</param>
/// <param name="StatusCode">Status of the answer.</param>
/// <param name="LatencyMs">Time in Tollgate's pipeline, in milliseconds.</param>
/// <param name="Outcome">Admitted, RateLimited or QuotaExceeded.</param>
public sealed record LogEntryDto(
    long Id, DateTime Timestamp, long TenantId, long ApiKeyId, string Method, string Endpoint, int StatusCode, double LatencyMs, LimitOutcome Outcome);

/// <summary>Answer of <c>GET /api/admin/logs</c>: a page of the request log, newest first.</summary>
/// <param name="Items">The rows of this page.</param>
/// <param name="NextCursor">Pass as <c>cursor</c> for the next (older) page; null on the last page.</param>
public sealed record LogPageDto(IReadOnlyList<LogEntryDto> Items, string? NextCursor);
