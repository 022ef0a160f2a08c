using System.Globalization;
using System.Linq.Expressions;
using System.Reflection;
using System.Text;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Net.Http.Headers;
using Tollgate.Data;
using Tollgate.Keys;
using Tollgate.Limits;
using Tollgate.Usage;

namespace Tollgate.Admin;

// The DTOs of this API live beside it rather than in AdminContracts.cs: they are read by this file and the
// dashboard only, and keeping the usage read side in one file keeps it easy to move to its own folder later.

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

/// <summary>
/// The read side of usage: time series, per-endpoint and per-status breakdowns answered by grouping the per-minute
/// roll-ups (never by counting <c>usage_logs</c>), and the raw request log, keyset-paged (timestamp, then id) so
/// that a deep page costs what the first one does.
/// </summary>
internal static class UsageApi
{
    /// <summary>Most buckets one series may have; past it the caller is asked for a coarser bucket.</summary>
    public const int MaxPoints = 10_000;

    public const int DefaultLogLimit = 50;
    public const int MaxLogLimit = 1_000;
    public const int DefaultCsvLimit = 100_000;
    public const int MaxCsvLimit = 1_000_000;

    /// <summary><c>Enumerable.Sum&lt;UsageRollup&gt;(source, Func&lt;UsageRollup, long&gt;)</c>, the call EF translates to SQL SUM.</summary>
    private static readonly MethodInfo SumOfLong = typeof(Enumerable).GetMethods()
        .Single(m => m.Name == nameof(Enumerable.Sum) && m.IsGenericMethodDefinition
            && m.GetParameters() is [_, { ParameterType: { IsGenericType: true } selector }]
            && selector.GetGenericTypeDefinition() == typeof(Func<,>)
            && selector.GetGenericArguments()[1] == typeof(long))
        .MakeGenericMethod(typeof(UsageRollup));

    private static readonly DateTime Earliest = new(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc);
    private static readonly DateTime Latest = new(9000, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    public static void Map(RouteGroupBuilder admin)
    {
        var usage = admin.MapGroup("/usage").WithTags("Usage");
        usage.MapGet("", SeriesAsync);
        usage.MapGet("/endpoints", EndpointsAsync);
        usage.MapGet("/status-codes", StatusCodesAsync);
        admin.MapGet("/logs", LogsAsync).WithTags("Usage");
    }

    private static async Task<Results<Ok<UsageSeriesDto>, ValidationProblem, ProblemHttpResult>> SeriesAsync(
        HttpContext http, TollgateDbContext db, TenantDirectory directory, TimeProvider time,
        string? tenantId, string? from, string? to, string? bucket, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        var filter = UsageFilter.Parse(tenantId, from, to, time.GetUtcNow().UtcDateTime, TimeSpan.FromHours(24), errors);
        var size = bucket is null ? Bucket.For(filter.To - filter.From) : Bucket.Parse(bucket, errors);
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

        if (filter.Resolve(AdminScope.From(http.User), directory) is not { } scoped)
        {
            return AdminValidation.NotFound($"Tenant {tenantId}");
        }

        var rows = scoped.Rollups(db, start, filter.To);
        var sums = await (size.Name switch
        {
            "minute" => Aggregate(rows.GroupBy(r => r.BucketStart)),
            "hour" => Aggregate(rows.GroupBy(r => r.BucketStart.Date.AddHours(r.BucketStart.Hour))),
            _ => Aggregate(rows.GroupBy(r => r.BucketStart.Date)),
        }).ToListAsync(ct);

        // Providers hand computed dates back without a kind; every time here is UTC.
        var byStart = sums.ToDictionary(s => DateTime.SpecifyKind(s.Key, DateTimeKind.Utc));
        var series = new List<UsagePointDto>((int)points);
        for (var at = start; at < filter.To; at += size.Length)
        {
            series.Add(byStart.TryGetValue(at, out var s)
                ? new UsagePointDto(at, s.Requests, s.Errors, s.Rejected,
                    LatencyHistogram.PercentileMs(s.Histogram, 50), LatencyHistogram.PercentileMs(s.Histogram, 95), LatencyHistogram.PercentileMs(s.Histogram, 99))
                : new UsagePointDto(at, 0, 0, 0, null, null, null));
        }

        return TypedResults.Ok(new UsageSeriesDto(scoped.TenantId, size.Name, start, filter.To, series));
    }

    private static async Task<Results<Ok<EndpointUsageListDto>, ValidationProblem, ProblemHttpResult>> EndpointsAsync(
        HttpContext http, TollgateDbContext db, TenantDirectory directory, TimeProvider time,
        string? tenantId, string? from, string? to, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        var filter = UsageFilter.Parse(tenantId, from, to, time.GetUtcNow().UtcDateTime, TimeSpan.FromHours(24), errors);
        if (errors.Count > 0)
        {
            return AdminValidation.Problem(errors);
        }

        if (filter.Resolve(AdminScope.From(http.User), directory) is not { } scoped)
        {
            return AdminValidation.NotFound($"Tenant {tenantId}");
        }

        var sums = await Aggregate(scoped.Rollups(db, filter.From, filter.To).GroupBy(r => new { r.Method, r.Endpoint }))
            .ToListAsync(ct);
        var endpoints = sums
            .Select(s => new EndpointUsageDto(
                s.Key.Method, s.Key.Endpoint, s.Requests, s.Errors, s.Rejected,
                s.Requests == 0 ? 0 : Math.Round((double)s.Errors / s.Requests, 4),
                LatencyHistogram.PercentileMs(s.Histogram, 50), LatencyHistogram.PercentileMs(s.Histogram, 95), LatencyHistogram.PercentileMs(s.Histogram, 99),
                s.Requests == 0 ? null : Math.Round(s.LatencySum / 1000.0 / s.Requests, 3),
                s.Requests == 0 ? null : Math.Round((s.LatencySum - s.UpstreamLatencySum) / 1000.0 / s.Requests, 3)))
            .OrderByDescending(e => e.Requests).ThenBy(e => e.Endpoint, StringComparer.Ordinal).ThenBy(e => e.Method, StringComparer.Ordinal)
            .ToList();
        return TypedResults.Ok(new EndpointUsageListDto(scoped.TenantId, filter.From, filter.To, endpoints));
    }

    private static async Task<Results<Ok<StatusCodeUsageListDto>, ValidationProblem, ProblemHttpResult>> StatusCodesAsync(
        HttpContext http, TollgateDbContext db, TenantDirectory directory, TimeProvider time,
        string? tenantId, string? from, string? to, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        var filter = UsageFilter.Parse(tenantId, from, to, time.GetUtcNow().UtcDateTime, TimeSpan.FromHours(24), errors);
        if (errors.Count > 0)
        {
            return AdminValidation.Problem(errors);
        }

        if (filter.Resolve(AdminScope.From(http.User), directory) is not { } scoped)
        {
            return AdminValidation.NotFound($"Tenant {tenantId}");
        }

        var codes = await scoped.Rollups(db, filter.From, filter.To)
            .GroupBy(r => r.StatusCode)
            .Select(g => new StatusCodeUsageDto(g.Key, g.Sum(r => r.Count)))
            .ToListAsync(ct);
        return TypedResults.Ok(new StatusCodeUsageListDto(scoped.TenantId, filter.From, filter.To, [.. codes.OrderBy(c => c.StatusCode)]));
    }

    private static async Task<Results<Ok<LogPageDto>, PushStreamHttpResult, ValidationProblem, ProblemHttpResult>> LogsAsync(
        HttpContext http, TollgateDbContext db, TenantDirectory directory,
        string? tenantId, string? from, string? to, string? limit, string? cursor, CancellationToken ct)
    {
        var csv = WantsCsv(http.Request);
        var errors = new Dictionary<string, string[]>();
        var filter = UsageFilter.Parse(tenantId, from, to, now: null, defaultSpan: null, errors);
        var take = ParseInt(limit, "limit", 1, csv ? MaxCsvLimit : MaxLogLimit, csv ? DefaultCsvLimit : DefaultLogLimit, errors);
        var after = LogCursor.Parse(cursor, errors);
        if (errors.Count > 0)
        {
            return AdminValidation.Problem(errors);
        }

        if (filter.Resolve(AdminScope.From(http.User), directory) is not { } scoped)
        {
            return AdminValidation.NotFound($"Tenant {tenantId}");
        }

        var query = db.UsageLogs.AsNoTracking();
        if (scoped.TenantId is { } id)
        {
            query = query.Where(l => l.TenantId == id);
        }

        if (filter.HasFrom)
        {
            query = query.Where(l => l.Timestamp >= filter.From);
        }

        if (filter.HasTo)
        {
            query = query.Where(l => l.Timestamp < filter.To);
        }

        // Newest first, as (timestamp, id) descending: for one tenant that is the order of its
        // (tenant_id, timestamp) index (SQLite keeps the row id as the index's last column), so a page is one index
        // seek from the cursor and a deep page costs what the first one does. Across every tenant no index leads with
        // the timestamp, so there the id (insertion order, the table's own order) decides.
        if (scoped.TenantId is not null)
        {
            if (after is { } c)
            {
                query = query.Where(l => l.Timestamp <= c.Timestamp && (l.Timestamp < c.Timestamp || l.Id < c.Id));
            }

            query = query.OrderByDescending(l => l.Timestamp).ThenByDescending(l => l.Id);
        }
        else
        {
            if (after is { } c)
            {
                query = query.Where(l => l.Id < c.Id);
            }

            query = query.OrderByDescending(l => l.Id);
        }

        if (csv)
        {
            var name = scoped.TenantId is { } t ? $"tollgate-logs-tenant-{t}.csv" : "tollgate-logs.csv";
            return TypedResults.Stream(stream => WriteCsvAsync(stream, query.Take(take), ct), "text/csv; charset=utf-8", name);
        }

        var rows = await query.Take(take + 1).ToListAsync(ct);
        var items = rows.Take(take).Select(ToDto).ToList();
        var next = rows.Count > take ? LogCursor.Of(rows[take - 1]) : null;
        return TypedResults.Ok(new LogPageDto(items, next));
    }

    private static LogEntryDto ToDto(UsageLog l) =>
        new(l.Id, l.Timestamp, l.TenantId, l.ApiKeyId, l.Method, l.Endpoint, l.StatusCode, l.LatencyMicros / 1000.0, l.Outcome);

    private static async Task WriteCsvAsync(Stream stream, IQueryable<UsageLog> rows, CancellationToken ct)
    {
        await using var writer = new StreamWriter(stream, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), bufferSize: 64 * 1024);
        await writer.WriteAsync("id,timestamp,tenant_id,api_key_id,method,endpoint,status_code,latency_ms,outcome\n");
        var line = new StringBuilder(128);
        await foreach (var l in rows.AsAsyncEnumerable().WithCancellation(ct))
        {
            line.Clear()
                .Append(l.Id.ToString(CultureInfo.InvariantCulture)).Append(',')
                .Append(l.Timestamp.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture)).Append(',')
                .Append(l.TenantId.ToString(CultureInfo.InvariantCulture)).Append(',')
                .Append(l.ApiKeyId.ToString(CultureInfo.InvariantCulture)).Append(',');
            AppendCsvField(line, l.Method).Append(',');
            AppendCsvField(line, l.Endpoint).Append(',')
                .Append(l.StatusCode.ToString(CultureInfo.InvariantCulture)).Append(',')
                .Append((l.LatencyMicros / 1000.0).ToString("0.###", CultureInfo.InvariantCulture)).Append(',')
                .Append(l.Outcome.ToString()).Append('\n');
            await writer.WriteAsync(line, ct);
        }

        await writer.FlushAsync(ct);
    }

    /// <summary>
    /// RFC 4180 quoting, and a leading apostrophe for a field a spreadsheet would run as a formula (OWASP's
    /// CSV-injection advice). Route templates start with '/', so this is for stored values nobody expected.
    /// </summary>
    internal static StringBuilder AppendCsvField(StringBuilder line, string value)
    {
        var formula = value.Length > 0 && value[0] is '=' or '+' or '-' or '@' or '\t' or '\r';
        var quote = formula || value.AsSpan().IndexOfAny(",\"\r\n") >= 0;
        if (!quote)
        {
            return line.Append(value);
        }

        line.Append('"');
        if (formula)
        {
            line.Append('\'');
        }

        return line.Append(value.Replace("\"", "\"\"", StringComparison.Ordinal)).Append('"');
    }

    /// <summary>CSV when the client lists <c>text/csv</c> and does not prefer JSON to it.</summary>
    internal static bool WantsCsv(HttpRequest request)
    {
        if (!MediaTypeHeaderValue.TryParseList(request.Headers.Accept, out var accept))
        {
            return false;
        }

        double csv = 0, json = 0;
        foreach (var media in accept)
        {
            var quality = media.Quality ?? 1;
            if (media.MediaType.Equals("text/csv", StringComparison.OrdinalIgnoreCase))
            {
                csv = Math.Max(csv, quality);
            }
            else if (media.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase))
            {
                json = Math.Max(json, quality);
            }
        }

        return csv > 0 && csv >= json;
    }

    private static int ParseInt(string? value, string field, int min, int max, int fallback, Dictionary<string, string[]> errors)
    {
        if (value is null)
        {
            return fallback;
        }

        if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) && parsed >= min && parsed <= max)
        {
            return parsed;
        }

        errors[field] = [$"The {field} must be a whole number from {min} to {max}."];
        return fallback;
    }

    private static IQueryable<RollupSums<TKey>> Aggregate<TKey>(IQueryable<IGrouping<TKey, UsageRollup>> groups) =>
        groups.Select(SumsOf<TKey>.Projection);

    /// <summary>Where a page of the log ends: the last row's timestamp and id, as <c>ticks-id</c>.</summary>
    private readonly record struct LogCursor(DateTime Timestamp, long Id)
    {
        public static string Of(UsageLog row) =>
            row.Timestamp.Ticks.ToString(CultureInfo.InvariantCulture) + "-" + row.Id.ToString(CultureInfo.InvariantCulture);

        public static LogCursor? Parse(string? value, Dictionary<string, string[]> errors)
        {
            if (value is null)
            {
                return null;
            }

            var dash = value.IndexOf('-', StringComparison.Ordinal);
            if (dash > 0
                && long.TryParse(value.AsSpan(0, dash), NumberStyles.None, CultureInfo.InvariantCulture, out var ticks)
                && ticks <= DateTime.MaxValue.Ticks
                && long.TryParse(value.AsSpan(dash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var id)
                && id > 0)
            {
                return new LogCursor(new DateTime(ticks, DateTimeKind.Utc), id);
            }

            errors["cursor"] = ["The cursor must be a nextCursor value from an earlier page."];
            return null;
        }
    }

    /// <summary>The tenant and time window a request asked for, checked.</summary>
    private sealed record UsageFilter(long? TenantId, DateTime From, DateTime To, bool HasFrom, bool HasTo)
    {
        /// <summary>
        /// Reads tenantId, from and to. With <paramref name="now"/>, a missing <c>to</c> is now and a missing
        /// <c>from</c> is <paramref name="defaultSpan"/> before <c>to</c>; without, missing bounds stay open.
        /// </summary>
        public static UsageFilter Parse(
            string? tenantId, string? from, string? to, DateTime? now, TimeSpan? defaultSpan, Dictionary<string, string[]> errors)
        {
            long? tenant = null;
            if (tenantId is not null)
            {
                if (long.TryParse(tenantId, NumberStyles.None, CultureInfo.InvariantCulture, out var t) && t > 0)
                {
                    tenant = t;
                }
                else
                {
                    errors["tenantId"] = ["The tenantId must be a tenant's id."];
                }
            }

            var end = ParseTime(to, "to", errors) ?? now ?? Latest;
            var start = ParseTime(from, "from", errors)
                ?? (defaultSpan is { } span && end - Earliest > span ? end - span : Earliest);
            if (start >= end && !errors.ContainsKey("from") && !errors.ContainsKey("to"))
            {
                errors["from"] = ["'from' must be before 'to'."];
            }

            return new UsageFilter(tenant, start, end, from is not null, to is not null);
        }

        /// <summary>The tenant scope the admin may read, or null (a 404) when the tenant is hidden or unknown.</summary>
        public ScopedFilter? Resolve(AdminScope scope, TenantDirectory directory)
        {
            var tenant = TenantId ?? (scope.SeesAllTenants ? null : scope.TenantId);
            if (!scope.SeesAllTenants && tenant is null)
            {
                return null;
            }

            if (tenant is { } id && (!scope.CanSee(id) || !directory.TryGet(id, out _)))
            {
                return null;
            }

            return new ScopedFilter(tenant);
        }

        private static DateTime? ParseTime(string? value, string field, Dictionary<string, string[]> errors)
        {
            if (value is null)
            {
                return null;
            }

            if (DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed)
                && parsed.UtcDateTime >= Earliest && parsed.UtcDateTime <= Latest)
            {
                return parsed.UtcDateTime;
            }

            errors[field] = [$"'{field}' must be an ISO 8601 time between {Earliest:yyyy} and {Latest:yyyy}, e.g. 2026-11-01T00:00:00Z."];
            return null;
        }
    }

    /// <summary>A filter whose tenant the admin may see (null: every tenant, for a super admin).</summary>
    private sealed record ScopedFilter(long? TenantId)
    {
        public IQueryable<UsageRollup> Rollups(TollgateDbContext db, DateTime from, DateTime to)
        {
            // The roll-ups' key starts (tenant_id, bucket_start): a tenant's range is one index range scan.
            var rows = db.UsageRollups.AsNoTracking().Where(r => r.BucketStart >= from && r.BucketStart < to);
            return TenantId is { } id ? rows.Where(r => r.TenantId == id) : rows;
        }
    }

    /// <summary>A bucket size of the series.</summary>
    private sealed record Bucket(string Name, TimeSpan Length)
    {
        private static readonly Bucket Minute = new("minute", TimeSpan.FromMinutes(1));
        private static readonly Bucket Hour = new("hour", TimeSpan.FromHours(1));
        private static readonly Bucket Day = new("day", TimeSpan.FromDays(1));

        public static Bucket? Parse(string value, Dictionary<string, string[]> errors)
        {
            foreach (var bucket in (ReadOnlySpan<Bucket>)[Minute, Hour, Day])
            {
                if (bucket.Name.Equals(value, StringComparison.OrdinalIgnoreCase))
                {
                    return bucket;
                }
            }

            errors["bucket"] = ["The bucket must be minute, hour or day."];
            return null;
        }

        /// <summary>Without a bucket asked for: the finest that keeps a range to a few hundred points.</summary>
        public static Bucket For(TimeSpan range) =>
            range <= TimeSpan.FromHours(6) ? Minute : range <= TimeSpan.FromDays(14) ? Hour : Day;

        /// <summary>The start of the bucket a time falls into (UTC-aligned).</summary>
        public DateTime Floor(DateTime at) => new(at.Ticks - at.Ticks % Length.Ticks, DateTimeKind.Utc);
    }

    /// <summary>Sums of a group of roll-ups: counts and the merged latency histogram.</summary>
    private sealed class RollupSums<TKey>
    {
        public required TKey Key { get; init; }

        public long LatencySum { get; init; }

        public long UpstreamLatencySum { get; init; }

        public long Requests { get; init; }

        public long Errors { get; init; }

        public long Rejected { get; init; }

        public required long[] Histogram { get; init; }
    }

    /// <summary>
    /// <c>g =&gt; new RollupSums { Key = g.Key, Requests = g.Sum(r =&gt; r.Count), …, Histogram = new[] { g.Sum(r =&gt;
    /// EF.Property&lt;long&gt;(r, "le_50us")), … } }</c>, built once per key type from
    /// <see cref="LatencyHistogram.ColumnNames"/> so the database sums every histogram column and the column list is
    /// written in one place only.
    /// </summary>
    private static class SumsOf<TKey>
    {
        public static readonly Expression<Func<IGrouping<TKey, UsageRollup>, RollupSums<TKey>>> Projection = Build();

        private static Expression<Func<IGrouping<TKey, UsageRollup>, RollupSums<TKey>>> Build()
        {
            var g = Expression.Parameter(typeof(IGrouping<TKey, UsageRollup>), "g");
            Expression Sum(Expression<Func<UsageRollup, long>> selector) => Expression.Call(SumOfLong, g, selector);

            var histogram = LatencyHistogram.ColumnNames.Select(column =>
            {
                var r = Expression.Parameter(typeof(UsageRollup), "r");
                var property = Expression.Call(typeof(EF), nameof(EF.Property), [typeof(long)], r, Expression.Constant(column));
                return Sum(Expression.Lambda<Func<UsageRollup, long>>(property, r));
            });

            var type = typeof(RollupSums<TKey>);
            var body = Expression.MemberInit(
                Expression.New(type),
                Expression.Bind(type.GetProperty(nameof(RollupSums<TKey>.Key))!, Expression.Property(g, nameof(IGrouping<TKey, UsageRollup>.Key))),
                Expression.Bind(type.GetProperty(nameof(RollupSums<TKey>.Requests))!, Sum(r => r.Count)),
                Expression.Bind(type.GetProperty(nameof(RollupSums<TKey>.Errors))!,
                    Sum(r => r.Outcome == LimitOutcome.Admitted && r.StatusCode >= 400 ? r.Count : 0L)),
                Expression.Bind(type.GetProperty(nameof(RollupSums<TKey>.Rejected))!,
                    Sum(r => r.Outcome != LimitOutcome.Admitted ? r.Count : 0L)),
                Expression.Bind(type.GetProperty(nameof(RollupSums<TKey>.LatencySum))!, Sum(r => r.LatencySumMicros)),
                Expression.Bind(type.GetProperty(nameof(RollupSums<TKey>.UpstreamLatencySum))!, Sum(r => r.UpstreamLatencySumMicros)),
                Expression.Bind(type.GetProperty(nameof(RollupSums<TKey>.Histogram))!, Expression.NewArrayInit(typeof(long), histogram)));
            return Expression.Lambda<Func<IGrouping<TKey, UsageRollup>, RollupSums<TKey>>>(body, g);
        }
    }
}
