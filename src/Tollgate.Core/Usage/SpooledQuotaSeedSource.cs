using Microsoft.EntityFrameworkCore;
using Tollgate.Data;
using Tollgate.Limits;

namespace Tollgate.Usage;

/// <summary>
/// The limit stores' seeds plus what the spool holds: admitted requests spooled during a database outage are in no
/// <c>quota_counters</c> row until they are replayed, and a seed that missed them would admit them again.
/// </summary>
internal sealed class SpooledQuotaSeedSource(IQuotaSeedSource inner, UsageSpool spool, TimeProvider time) : IQuotaSeedSource
{
    public ValueTask<long> GetUsedAsync(long tenantId, QuotaPeriod period, DateTime periodStart, CancellationToken cancellationToken) =>
        spool.HasPending
            ? spool.ReadConsistentAsync(
                new QuotaKey(tenantId, period, periodStart),
                ct => inner.GetUsedAsync(tenantId, period, periodStart, ct),
                time,
                cancellationToken)
            : inner.GetUsedAsync(tenantId, period, periodStart, cancellationToken);

    public ValueTask<long> GetSharedSeedAsync(long tenantId, QuotaPeriod period, DateTime periodStart, CancellationToken cancellationToken) =>
        spool.HasPending
            ? spool.ReadConsistentAsync(
                new QuotaKey(tenantId, period, periodStart),
                ct => inner.GetSharedSeedAsync(tenantId, period, periodStart, ct),
                time,
                cancellationToken,
                sharedOnly: true)
            : inner.GetSharedSeedAsync(tenantId, period, periodStart, cancellationToken);

    public void Forget(long tenantId) => inner.Forget(tenantId);
}

/// <summary>
/// Opens the spool on start, after the migrations and before the server listens: a spool left by a previous run
/// (a database outage that outlasted it) is then counted by the quota seeds at once and replayed by the writer.
/// </summary>
internal sealed partial class UsageSpoolLoader(
    UsageSpool spool, IQuotaSeedSource seeds, IServiceScopeFactory scopes, ILogger<UsageSpoolLoader> logger)
    : IStartupSeeder
{
    public async Task SeedAsync(CancellationToken cancellationToken)
    {
        IReadOnlyDictionary<string, long> marks = new Dictionary<string, long>();
        try
        {
            if (File.Exists(spool.FilePath) && new FileInfo(spool.FilePath).Length > 0)
            {
                await using var scope = scopes.CreateAsyncScope();
                var db = scope.ServiceProvider.GetRequiredService<TollgateDbContext>();
                marks = await db.UsageWriterMarks.AsNoTracking().ToDictionaryAsync(m => m.WriterId, m => m.LastSequence, cancellationToken);
            }

            spool.Load(_ => marks);
            // The quota preload ran before (it is registered first) and did not see the spool; these tenants' seeds
            // are read afresh, database and spool together, so the replay cannot slip between the two.
            foreach (var tenantId in spool.PendingTenants())
            {
                seeds.Forget(tenantId);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Not fatal: the database takes the events; the spool is tried again when it is needed.
            LogLoadFailed(logger, ex, spool.FilePath);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The usage spool {Path} cannot be opened; it is retried when the database fails")]
    private static partial void LogLoadFailed(ILogger logger, Exception exception, string path);
}
