using System.Collections.Concurrent;
using Microsoft.EntityFrameworkCore;
using Tollgate.Data;
using Tollgate.Limits;

namespace Tollgate.Usage;

/// <summary>
/// Reads <c>quota_counters</c> for the limit stores (the usage side owns the table: it writes it, reads it and deletes
/// from it). On start it loads the current period of every tenant in one query, so that the
/// first request of each tenant does not wait on the database; later look-ups (a period that is not the current one
/// at start, a forgotten tenant) read the row they need.
/// </summary>
internal sealed class QuotaCounterSeedSource(
    IServiceScopeFactory scopes, TimeProvider time, Microsoft.Extensions.Options.IOptions<TollgateOptions> options) : IQuotaSeedSource
{
    private readonly ConcurrentDictionary<long, byte> _forgotten = new();
    private Dictionary<(long TenantId, QuotaPeriod Period, DateTime Start), long> _preloaded = [];
    private DateTime[] _preloadedStarts = [];

    /// <summary>Loads the counters of the current periods of every tenant.</summary>
    public async Task PreloadAsync(CancellationToken ct)
    {
        // With Redis, seeds are asked for when a shared counter went missing, long after start: only a fresh read
        // of the database is right then.
        if (options.Value.Redis is { Length: > 0 })
        {
            return;
        }

        var now = time.GetUtcNow().UtcDateTime;
        var starts = Enum.GetValues<QuotaPeriod>().Select(p => QuotaPeriods.StartOf(p, now)).ToArray();
        var earliest = starts.Min();
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TollgateDbContext>();
        var rows = await db.QuotaCounters.AsNoTracking()
            .Where(c => c.PeriodStart >= earliest)
            .ToListAsync(ct);
        _preloaded = rows
            .Where(r => starts[(int)r.Period] == r.PeriodStart)
            .ToDictionary(r => (r.TenantId, r.Period, r.PeriodStart), r => r.Used);
        _preloadedStarts = starts;
    }

    public async ValueTask<long> GetUsedAsync(long tenantId, QuotaPeriod period, DateTime periodStart, CancellationToken ct)
    {
        var starts = _preloadedStarts;
        if (starts.Length > 0 && starts[(int)period] == periodStart && !_forgotten.ContainsKey(tenantId))
        {
            return _preloaded.GetValueOrDefault((tenantId, period, periodStart));
        }

        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TollgateDbContext>();
        return await db.QuotaCounters.AsNoTracking()
            .Where(c => c.TenantId == tenantId && c.Period == period && c.PeriodStart == periodStart)
            .Select(c => c.Used)
            .FirstOrDefaultAsync(ct);
    }

    public async ValueTask<long> GetSharedSeedAsync(long tenantId, QuotaPeriod period, DateTime periodStart, CancellationToken ct)
    {
        // Always a fresh read: a shared counter is rebuilt long after start, and the unshared part changes as
        // instances recover.
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TollgateDbContext>();
        return await db.QuotaCounters.AsNoTracking()
            .Where(c => c.TenantId == tenantId && c.Period == period && c.PeriodStart == periodStart)
            .Select(c => c.Used - c.Unshared)
            .FirstOrDefaultAsync(ct);
    }

    public void Forget(long tenantId) => _forgotten[tenantId] = 0;
}
