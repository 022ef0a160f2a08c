using Microsoft.AspNetCore.Http.HttpResults;
using Tollgate.Keys;

namespace Tollgate.Admin;

/// <summary>
/// <c>/api/admin/usage</c> (time series, per endpoint, per status code) and <c>/api/admin/logs</c> (the request log,
/// as JSON pages or a CSV export). The handlers check the query and the admin's tenant scope; the reading is
/// <see cref="UsageQueries"/>'.
/// </summary>
internal static class UsageApi
{
    /// <summary>Most buckets one series may have; past it the caller is asked for a coarser bucket.</summary>
    public const int MaxPoints = 10_000;

    /// <summary>Rows of a log page when <c>limit</c> is not given.</summary>
    public const int DefaultLogLimit = 50;

    /// <summary>Most rows of a log page.</summary>
    public const int MaxLogLimit = 1_000;

    /// <summary>Rows of a CSV export when <c>limit</c> is not given.</summary>
    public const int DefaultCsvLimit = 100_000;

    /// <summary>Most rows of a CSV export.</summary>
    public const int MaxCsvLimit = 1_000_000;

    private static readonly TimeSpan DefaultRange = TimeSpan.FromHours(24);

    /// <summary>Maps the routes on the admin group.</summary>
    public static void Map(RouteGroupBuilder admin)
    {
        var usage = admin.MapGroup("/usage").WithTags("Usage");
        usage.MapGet("", SeriesAsync);
        usage.MapGet("/endpoints", EndpointsAsync);
        usage.MapGet("/status-codes", StatusCodesAsync);
        admin.MapGet("/logs", LogsAsync).WithTags("Usage");
    }

    private static async Task<Results<Ok<UsageSeriesDto>, ValidationProblem, ProblemHttpResult>> SeriesAsync(
        HttpContext http, UsageQueries usage, TenantDirectory directory, TimeProvider time,
        string? tenantId, string? from, string? to, string? bucket, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        var filter = UsageFilter.Parse(tenantId, from, to, time.GetUtcNow().UtcDateTime, DefaultRange, errors);
        var size = bucket is null ? UsageBucket.For(filter.To - filter.From) : UsageBucket.Parse(bucket, errors);
        if (errors.Count > 0 || size is null)
        {
            return AdminValidation.Problem(errors);
        }

        var start = size.Floor(filter.From);
        var points = (long)Math.Ceiling((filter.To - start) / size.Length);
        if (points > MaxPoints)
        {
            errors["bucket"] = [$"{points} {size.Name} buckets is more than {MaxPoints}: ask for a coarser bucket or a shorter range."];
            return AdminValidation.Problem(errors);
        }

        if (!filter.TryResolve(AdminScope.From(http.User), directory, out var tenant))
        {
            return AdminValidation.NotFound($"Tenant {tenantId}");
        }

        var series = await usage.SeriesAsync(tenant, size, start, filter.To, ct);
        return TypedResults.Ok(new UsageSeriesDto(tenant, size.Name, start, filter.To, series));
    }

    private static async Task<Results<Ok<EndpointUsageListDto>, ValidationProblem, ProblemHttpResult>> EndpointsAsync(
        HttpContext http, UsageQueries usage, TenantDirectory directory, TimeProvider time,
        string? tenantId, string? from, string? to, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        var filter = UsageFilter.Parse(tenantId, from, to, time.GetUtcNow().UtcDateTime, DefaultRange, errors);
        if (errors.Count > 0)
        {
            return AdminValidation.Problem(errors);
        }

        if (!filter.TryResolve(AdminScope.From(http.User), directory, out var tenant))
        {
            return AdminValidation.NotFound($"Tenant {tenantId}");
        }

        var endpoints = await usage.EndpointsAsync(tenant, filter.From, filter.To, ct);
        return TypedResults.Ok(new EndpointUsageListDto(tenant, filter.From, filter.To, endpoints));
    }

    private static async Task<Results<Ok<StatusCodeUsageListDto>, ValidationProblem, ProblemHttpResult>> StatusCodesAsync(
        HttpContext http, UsageQueries usage, TenantDirectory directory, TimeProvider time,
        string? tenantId, string? from, string? to, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        var filter = UsageFilter.Parse(tenantId, from, to, time.GetUtcNow().UtcDateTime, DefaultRange, errors);
        if (errors.Count > 0)
        {
            return AdminValidation.Problem(errors);
        }

        if (!filter.TryResolve(AdminScope.From(http.User), directory, out var tenant))
        {
            return AdminValidation.NotFound($"Tenant {tenantId}");
        }

        var codes = await usage.StatusCodesAsync(tenant, filter.From, filter.To, ct);
        return TypedResults.Ok(new StatusCodeUsageListDto(tenant, filter.From, filter.To, codes));
    }

    private static async Task<Results<Ok<LogPageDto>, PushStreamHttpResult, ValidationProblem, ProblemHttpResult>> LogsAsync(
        HttpContext http, UsageQueries usage, TenantDirectory directory,
        string? tenantId, string? from, string? to, string? limit, string? cursor, CancellationToken ct)
    {
        var csv = CsvExport.Wanted(http.Request);
        var errors = new Dictionary<string, string[]>();
        var filter = UsageFilter.Parse(tenantId, from, to, now: null, defaultSpan: null, errors);
        var take = QueryValues.Int(limit, "limit", 1, csv ? MaxCsvLimit : MaxLogLimit, csv ? DefaultCsvLimit : DefaultLogLimit, errors);
        var after = LogCursor.Parse(cursor, errors);
        if (errors.Count > 0)
        {
            return AdminValidation.Problem(errors);
        }

        if (!filter.TryResolve(AdminScope.From(http.User), directory, out var tenant))
        {
            return AdminValidation.NotFound($"Tenant {tenantId}");
        }

        var query = new LogQuery(tenant, filter.HasFrom ? filter.From : null, filter.HasTo ? filter.To : null, after);
        if (csv)
        {
            var name = tenant is { } t ? $"tollgate-logs-tenant-{t}.csv" : "tollgate-logs.csv";
            return TypedResults.Stream(stream => CsvExport.WriteLogsAsync(stream, usage.StreamLogsAsync(query, take, ct), ct), CsvExport.ContentType, name);
        }

        return TypedResults.Ok(await usage.LogPageAsync(query, take, ct));
    }
}
