using System.Runtime.CompilerServices;
using Microsoft.EntityFrameworkCore;
using Tollgate.Data;
using Tollgate.Usage;

namespace Tollgate.Admin;

/// <summary>Which rows of the request log to read, newest first.</summary>
/// <param name="TenantId">One tenant, or null for every tenant.</param>
/// <param name="From">Rows at or after (UTC), or null for no lower bound.</param>
/// <param name="To">Rows before (UTC), or null for no upper bound.</param>
/// <param name="After">The cursor of the previous page, or null for the first page.</param>
internal sealed record LogQuery(long? TenantId, DateTime? From, DateTime? To, LogCursor? After);

/// <summary>
/// The read side of usage for the admin API: time series, per-endpoint and per-status breakdowns answered by grouping
/// the roll-ups of the tier the bucket asks for (never by counting <c>usage_logs</c>), and the raw request log, keyset-paged (timestamp,
/// then id) so that a deep page costs what the first one does. A null tenant means every tenant; the caller has
/// checked that the admin may read what it asks for.
/// </summary>
internal sealed class UsageQueries(TollgateDbContext db)
{
    /// <summary>One point per bucket from <paramref name="start"/> (a bucket start) to <paramref name="to"/>, empty buckets included.</summary>
    public Task<List<UsagePointDto>> SeriesAsync(long? tenantId, UsageBucket bucket, DateTime start, DateTime to, CancellationToken ct) =>
        bucket.Name switch
        {
            // Each bucket size reads its own tier: a 30-day chart is ~720 hour rows per tenant and endpoint, not 43,200.
            "minute" => SeriesAsync(db.UsageRollups, tenantId, bucket, start, to, ct),
            "hour" => SeriesAsync(db.UsageRollupsHour, tenantId, bucket, start, to, ct),
            _ => SeriesAsync(db.UsageRollupsDay, tenantId, bucket, start, to, ct),
        };

    /// <summary>Usage per method and route template, busiest first.</summary>
    public Task<List<EndpointUsageDto>> EndpointsAsync(long? tenantId, DateTime from, DateTime to, CancellationToken ct) =>
        UsageBucket.For(to - from).Name switch
        {
            "minute" => EndpointsAsync(db.UsageRollups, tenantId, from, to, ct),
            "hour" => EndpointsAsync(db.UsageRollupsHour, tenantId, Floor(from, UsageBucket.Hour), to, ct),
            _ => EndpointsAsync(db.UsageRollupsDay, tenantId, Floor(from, UsageBucket.Day), to, ct),
        };

    /// <summary>Requests per status code, lowest code first.</summary>
    public Task<List<StatusCodeUsageDto>> StatusCodesAsync(long? tenantId, DateTime from, DateTime to, CancellationToken ct) =>
        UsageBucket.For(to - from).Name switch
        {
            "minute" => StatusCodesAsync(db.UsageRollups, tenantId, from, to, ct),
            "hour" => StatusCodesAsync(db.UsageRollupsHour, tenantId, Floor(from, UsageBucket.Hour), to, ct),
            _ => StatusCodesAsync(db.UsageRollupsDay, tenantId, Floor(from, UsageBucket.Day), to, ct),
        };

    // A range longer than the minute tier is read in whole hours or days: its first bucket counts from its start.
    private static DateTime Floor(DateTime time, UsageBucket bucket) =>
        new(time.Ticks - time.Ticks % bucket.Length.Ticks, DateTimeKind.Utc);

    private static async Task<List<UsagePointDto>> SeriesAsync<TRow>(
        IQueryable<TRow> table, long? tenantId, UsageBucket bucket, DateTime start, DateTime to, CancellationToken ct)
        where TRow : UsageRollupRow
    {
        var rows = Rollups(table, tenantId, start, to);
        var sums = await Aggregate(rows.GroupBy(r => r.BucketStart)).ToListAsync(ct);
        var sketches = await SketchesAsync(rows.Select(r => new { Key = r.BucketStart, Sketch = r.LatencySketch }), r => Utc(r.Key), r => r.Sketch, ct);

        // Providers hand dates back without a kind; every time here is UTC.
        var byStart = sums.ToDictionary(s => Utc(s.Key));
        var series = new List<UsagePointDto>((int)Math.Ceiling((to - start) / bucket.Length));
        for (var at = start; at < to; at += bucket.Length)
        {
            if (byStart.TryGetValue(at, out var s))
            {
                var latency = sketches.GetValueOrDefault(at) ?? new LatencySketch();
                series.Add(new UsagePointDto(at, s.Requests, s.Errors, s.Rejected,
                    latency.PercentileMs(50), latency.PercentileMs(95), latency.PercentileMs(99)));
            }
            else
            {
                series.Add(new UsagePointDto(at, 0, 0, 0, null, null, null));
            }
        }

        return series;
    }

    private static async Task<List<EndpointUsageDto>> EndpointsAsync<TRow>(
        IQueryable<TRow> table, long? tenantId, DateTime from, DateTime to, CancellationToken ct)
        where TRow : UsageRollupRow
    {
        var rows = Rollups(table, tenantId, from, to);
        var sums = await Aggregate(rows.GroupBy(r => new { r.Method, r.Endpoint })).ToListAsync(ct);
        var sketches = await SketchesAsync(
            rows.Select(r => new { r.Method, r.Endpoint, Sketch = r.LatencySketch }), r => (r.Method, r.Endpoint), r => r.Sketch, ct);
        return sums
            .Select(s =>
            {
                var latency = sketches.GetValueOrDefault((s.Key.Method, s.Key.Endpoint)) ?? new LatencySketch();
                return new EndpointUsageDto(
                    s.Key.Method, s.Key.Endpoint, s.Requests, s.Errors, s.Rejected,
                    s.Requests == 0 ? 0 : Math.Round((double)s.Errors / s.Requests, 4),
                    latency.PercentileMs(50), latency.PercentileMs(95), latency.PercentileMs(99),
                    s.Requests == 0 ? null : Math.Round(s.LatencySum / 1000.0 / s.Requests, 3),
                    s.Requests == 0 ? null : Math.Round((s.LatencySum - s.UpstreamLatencySum) / 1000.0 / s.Requests, 3));
            })
            .OrderByDescending(e => e.Requests).ThenBy(e => e.Endpoint, StringComparer.Ordinal).ThenBy(e => e.Method, StringComparer.Ordinal)
            .ToList();
    }

    private static async Task<List<StatusCodeUsageDto>> StatusCodesAsync<TRow>(
        IQueryable<TRow> table, long? tenantId, DateTime from, DateTime to, CancellationToken ct)
        where TRow : UsageRollupRow
    {
        var codes = await Rollups(table, tenantId, from, to)
            .GroupBy(r => r.StatusCode)
            .Select(g => new StatusCodeUsageDto(g.Key, g.Sum(r => r.Count)))
            .ToListAsync(ct);
        return [.. codes.OrderBy(c => c.StatusCode)];
    }

    /// <summary>
    /// The rows' latency sketches merged per key. No database adds sketches, so the rows' sketches are read and merged
    /// here: a few hundred bytes a row, and each bucket size reads its own tier, so a range is hundreds of rows, not
    /// tens of thousands. Statements (<see cref="StatementQueries"/>) merge theirs here too.
    /// </summary>
    internal static async Task<Dictionary<TKey, LatencySketch>> SketchesAsync<TRow, TKey>(
        IQueryable<TRow> rows, Func<TRow, TKey> key, Func<TRow, byte[]?> sketch, CancellationToken ct)
        where TKey : notnull
    {
        var merged = new Dictionary<TKey, LatencySketch>();
        await foreach (var row in rows.AsAsyncEnumerable().WithCancellation(ct))
        {
            if (sketch(row) is not { } bytes)
            {
                continue;
            }

            var k = key(row);
            if (!merged.TryGetValue(k, out var s))
            {
                s = new LatencySketch();
                merged[k] = s;
            }

            s.Merge(bytes);
        }

        return merged;
    }

    private static DateTime Utc(DateTime time) => DateTime.SpecifyKind(time, DateTimeKind.Utc);

    /// <summary>One page of the request log and the cursor of the next, older one (null on the last page).</summary>
    public async Task<LogPageDto> LogPageAsync(LogQuery query, int limit, CancellationToken ct)
    {
        var rows = await Logs(query).Take(limit + 1).ToListAsync(ct);
        var items = rows.Take(limit).Select(ToDto).ToList();
        var next = rows.Count > limit ? new LogCursor(rows[limit - 1].Timestamp, rows[limit - 1].Id).ToString() : null;
        return new LogPageDto(items, next);
    }

    /// <summary>Up to <paramref name="limit"/> rows of the request log, streamed from the database as they are read (for exports).</summary>
    public async IAsyncEnumerable<LogEntryDto> StreamLogsAsync(LogQuery query, int limit, [EnumeratorCancellation] CancellationToken ct)
    {
        await foreach (var row in Logs(query).Take(limit).AsAsyncEnumerable().WithCancellation(ct))
        {
            yield return ToDto(row);
        }
    }

    private static IQueryable<TRow> Rollups<TRow>(IQueryable<TRow> table, long? tenantId, DateTime from, DateTime to)
        where TRow : UsageRollupRow
    {
        // The roll-ups' key starts (tenant_id, bucket_start): a tenant's range is one index range scan.
        var rows = table.AsNoTracking().Where(r => r.BucketStart >= from && r.BucketStart < to);
        return tenantId is { } id ? rows.Where(r => r.TenantId == id) : rows;
    }

    private IQueryable<LogRow> Logs(LogQuery filter)
    {
        var query = db.UsageLogs.AsNoTracking();
        if (filter.TenantId is { } id)
        {
            query = query.Where(l => l.TenantId == id);
        }

        if (filter.From is { } from)
        {
            query = query.Where(l => l.Timestamp >= from);
        }

        if (filter.To is { } to)
        {
            query = query.Where(l => l.Timestamp < to);
        }

        if (filter.After is { } c)
        {
            query = filter.TenantId is not null
                ? query.Where(l => l.Timestamp <= c.Timestamp && (l.Timestamp < c.Timestamp || l.Id < c.Id))
                : query.Where(l => l.Id < c.Id);
        }

        // The method and endpoint are stored once, in usage_endpoints; each row is joined to its pair by primary key.
        var rows = query.Join(db.UsageEndpoints, l => l.EndpointId, e => e.Id, (l, e) => new LogRow
        {
            Id = l.Id,
            Timestamp = l.Timestamp,
            TenantId = l.TenantId,
            ApiKeyId = l.ApiKeyId,
            Method = e.Method,
            Endpoint = e.Endpoint,
            StatusCode = l.StatusCode,
            LatencyMicros = l.LatencyMicros,
            Outcome = l.Outcome,
        });

        // Newest first, as (time, id) descending: for one tenant that is the order of its (tenant_id, time_ms) index
        // (SQLite keeps the row id as the index's last column), so a page is one index seek from the cursor and a deep
        // page costs what the first one does. Across every tenant no index leads with the time, so there the id
        // (insertion order, the table's own order) decides.
        return filter.TenantId is not null
            ? rows.OrderByDescending(l => l.Timestamp).ThenByDescending(l => l.Id)
            : rows.OrderByDescending(l => l.Id);
    }

    private static LogEntryDto ToDto(LogRow l) =>
        new(l.Id, l.Timestamp, l.TenantId, l.ApiKeyId, l.Method, l.Endpoint, l.StatusCode, l.LatencyMicros / 1000.0, l.Outcome);

    private static IQueryable<RollupSums<TKey>> Aggregate<TRow, TKey>(IQueryable<IGrouping<TKey, TRow>> groups)
        where TRow : UsageRollupRow =>
        groups.Select(g => new RollupSums<TKey>
        {
            Key = g.Key,
            Requests = g.Sum(r => r.Count),
            Errors = g.Sum(r => r.Outcome == LimitOutcome.Admitted && r.StatusCode >= 400 ? r.Count : 0L),
            Rejected = g.Sum(r => r.Outcome != LimitOutcome.Admitted ? r.Count : 0L),
            LatencySum = g.Sum(r => r.LatencySumMicros),
            UpstreamLatencySum = g.Sum(r => r.UpstreamLatencySumMicros),
        });
}

/// <summary>A raw log row with its method and endpoint joined in, as a page of the request log reads it.</summary>
internal sealed class LogRow
{
    public long Id { get; init; }

    public DateTime Timestamp { get; init; }

    public long TenantId { get; init; }

    public long ApiKeyId { get; init; }

    public required string Method { get; init; }

    public required string Endpoint { get; init; }

    public int StatusCode { get; init; }

    public long LatencyMicros { get; init; }

    public LimitOutcome Outcome { get; init; }
}
