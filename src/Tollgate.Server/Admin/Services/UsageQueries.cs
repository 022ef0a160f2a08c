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
/// the per-minute roll-ups (never by counting <c>usage_logs</c>), and the raw request log, keyset-paged (timestamp,
/// then id) so that a deep page costs what the first one does. A null tenant means every tenant; the caller has
/// checked that the admin may read what it asks for.
/// </summary>
internal sealed class UsageQueries(TollgateDbContext db)
{
    /// <summary>One point per bucket from <paramref name="start"/> (a bucket start) to <paramref name="to"/>, empty buckets included.</summary>
    public async Task<List<UsagePointDto>> SeriesAsync(long? tenantId, UsageBucket bucket, DateTime start, DateTime to, CancellationToken ct)
    {
        var rows = Rollups(tenantId, start, to);
        var sums = await (bucket.Name switch
        {
            "minute" => Aggregate(rows.GroupBy(r => r.BucketStart)),
            "hour" => Aggregate(rows.GroupBy(r => r.BucketStart.Date.AddHours(r.BucketStart.Hour))),
            _ => Aggregate(rows.GroupBy(r => r.BucketStart.Date)),
        }).ToListAsync(ct);

        // Providers hand computed dates back without a kind; every time here is UTC.
        var byStart = sums.ToDictionary(s => DateTime.SpecifyKind(s.Key, DateTimeKind.Utc));
        var series = new List<UsagePointDto>((int)Math.Ceiling((to - start) / bucket.Length));
        for (var at = start; at < to; at += bucket.Length)
        {
            series.Add(byStart.TryGetValue(at, out var s)
                ? new UsagePointDto(at, s.Requests, s.Errors, s.Rejected,
                    LatencyHistogram.PercentileMs(s.Histogram, 50), LatencyHistogram.PercentileMs(s.Histogram, 95), LatencyHistogram.PercentileMs(s.Histogram, 99))
                : new UsagePointDto(at, 0, 0, 0, null, null, null));
        }

        return series;
    }

    /// <summary>Usage per method and route template, busiest first.</summary>
    public async Task<List<EndpointUsageDto>> EndpointsAsync(long? tenantId, DateTime from, DateTime to, CancellationToken ct)
    {
        var sums = await Aggregate(Rollups(tenantId, from, to).GroupBy(r => new { r.Method, r.Endpoint })).ToListAsync(ct);
        return sums
            .Select(s => new EndpointUsageDto(
                s.Key.Method, s.Key.Endpoint, s.Requests, s.Errors, s.Rejected,
                s.Requests == 0 ? 0 : Math.Round((double)s.Errors / s.Requests, 4),
                LatencyHistogram.PercentileMs(s.Histogram, 50), LatencyHistogram.PercentileMs(s.Histogram, 95), LatencyHistogram.PercentileMs(s.Histogram, 99),
                s.Requests == 0 ? null : Math.Round(s.LatencySum / 1000.0 / s.Requests, 3),
                s.Requests == 0 ? null : Math.Round((s.LatencySum - s.UpstreamLatencySum) / 1000.0 / s.Requests, 3)))
            .OrderByDescending(e => e.Requests).ThenBy(e => e.Endpoint, StringComparer.Ordinal).ThenBy(e => e.Method, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>Requests per status code, lowest code first.</summary>
    public async Task<List<StatusCodeUsageDto>> StatusCodesAsync(long? tenantId, DateTime from, DateTime to, CancellationToken ct)
    {
        var codes = await Rollups(tenantId, from, to)
            .GroupBy(r => r.StatusCode)
            .Select(g => new StatusCodeUsageDto(g.Key, g.Sum(r => r.Count)))
            .ToListAsync(ct);
        return [.. codes.OrderBy(c => c.StatusCode)];
    }

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

    private IQueryable<UsageRollup> Rollups(long? tenantId, DateTime from, DateTime to)
    {
        // The roll-ups' key starts (tenant_id, bucket_start): a tenant's range is one index range scan.
        var rows = db.UsageRollups.AsNoTracking().Where(r => r.BucketStart >= from && r.BucketStart < to);
        return tenantId is { } id ? rows.Where(r => r.TenantId == id) : rows;
    }

    private IQueryable<UsageLog> Logs(LogQuery filter)
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

        // Newest first, as (timestamp, id) descending: for one tenant that is the order of its
        // (tenant_id, timestamp) index (SQLite keeps the row id as the index's last column), so a page is one index
        // seek from the cursor and a deep page costs what the first one does. Across every tenant no index leads with
        // the timestamp, so there the id (insertion order, the table's own order) decides.
        if (filter.TenantId is not null)
        {
            if (filter.After is { } c)
            {
                query = query.Where(l => l.Timestamp <= c.Timestamp && (l.Timestamp < c.Timestamp || l.Id < c.Id));
            }

            return query.OrderByDescending(l => l.Timestamp).ThenByDescending(l => l.Id);
        }

        if (filter.After is { } after)
        {
            query = query.Where(l => l.Id < after.Id);
        }

        return query.OrderByDescending(l => l.Id);
    }

    private static LogEntryDto ToDto(UsageLog l) =>
        new(l.Id, l.Timestamp, l.TenantId, l.ApiKeyId, l.Method, l.Endpoint, l.StatusCode, l.LatencyMicros / 1000.0, l.Outcome);

    private static IQueryable<RollupSums<TKey>> Aggregate<TKey>(IQueryable<IGrouping<TKey, UsageRollup>> groups) =>
        groups.Select(RollupSums<TKey>.Projection);
}
