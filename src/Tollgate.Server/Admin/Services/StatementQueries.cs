using Microsoft.EntityFrameworkCore;
using Tollgate.Data;
using Tollgate.Keys;

namespace Tollgate.Admin;

/// <summary>
/// Monthly statements of a tenant, read from the day roll-ups only: retention never deletes them, so a statement of
/// any past month stays exact after the raw rows, the minute and the hour roll-ups are gone. The caller has checked
/// that the admin may read the tenant.
/// </summary>
internal sealed class StatementQueries(TollgateDbContext db, TimeProvider time)
{
    /// <summary>One statement per month from <paramref name="first"/> to <paramref name="last"/>, newest first, months without traffic included.</summary>
    public async Task<List<StatementDto>> MonthsAsync(TenantContext tenant, StatementMonth first, StatementMonth last, CancellationToken ct)
    {
        var from = first.Start;
        var to = last.End;
        var tenantId = tenant.Id;
        // Day rows start at midnight UTC, so a day row lies in exactly one month. The key starts (tenant_id,
        // bucket_start): the range is one index range scan, about 31 rows per endpoint, status and outcome a month.
        var rows = db.UsageRollupsDay.AsNoTracking()
            .Where(r => r.TenantId == tenantId && r.BucketStart >= from && r.BucketStart < to);
        var sums = await rows
            .GroupBy(r => new { r.BucketStart.Year, r.BucketStart.Month })
            .Select(g => new
            {
                g.Key.Year,
                g.Key.Month,
                Requests = g.Sum(r => r.Count),
                Admitted = g.Sum(r => r.Outcome == LimitOutcome.Admitted ? r.Count : 0L),
                RateLimited = g.Sum(r => r.Outcome == LimitOutcome.RateLimited ? r.Count : 0L),
                QuotaExceeded = g.Sum(r => r.Outcome == LimitOutcome.QuotaExceeded ? r.Count : 0L),
                Errors = g.Sum(r => r.Outcome == LimitOutcome.Admitted && r.StatusCode >= 400 ? r.Count : 0L),
            })
            .ToListAsync(ct);
        var sketches = await UsageQueries.SketchesAsync(
            rows.Select(r => new { r.BucketStart, r.LatencySketch }), r => StatementMonth.Of(r.BucketStart), r => r.LatencySketch, ct);

        var now = time.GetUtcNow().UtcDateTime;
        var statements = new StatementDto[last.Ordinal - first.Ordinal + 1];
        for (var i = 0; i < statements.Length; i++)
        {
            var month = last.Plus(-i);
            var latency = sketches.GetValueOrDefault(month) ?? new LatencySketch();
            statements[i] = new StatementDto(
                tenant.Id, tenant.Name, tenant.PlanName, month.ToString(), month.Start, month.End, 0, 0, 0, 0, 0,
                latency.PercentileMs(50), latency.PercentileMs(95), latency.PercentileMs(99), now >= month.End);
        }

        foreach (var s in sums)
        {
            // Newest first: the index is the month's distance from the last. The range condition above keeps every
            // group inside [first, last]; a group outside it would be a bug in that condition, and fails loudly here.
            var i = last.Ordinal - new StatementMonth(s.Year, s.Month).Ordinal;
            statements[i] = statements[i] with
            {
                Requests = s.Requests,
                Admitted = s.Admitted,
                RateLimited = s.RateLimited,
                QuotaExceeded = s.QuotaExceeded,
                Errors = s.Errors,
            };
        }

        return [.. statements];
    }
}
