using Microsoft.EntityFrameworkCore;
using Tollgate.Data;

namespace Tollgate.Usage;

/// <summary>
/// What other parts may do to the stored usage of a tenant, through its owner: the usage tables (the log, the
/// roll-ups, the quota counters) are written by the usage writer, emptied of expired rows by
/// <see cref="UsageRetention"/>, and changed nowhere else.
/// </summary>
public static class UsageRecords
{
    /// <summary>
    /// Deletes every stored usage row of the tenants, in the caller's context and so in its transaction (the demo data
    /// is replaced so). The limit stores must then forget the tenants (the change feed's <c>UsageRewrittenAsync</c>).
    /// </summary>
    public static async Task DeleteAsync(TollgateDbContext db, IReadOnlyCollection<long> tenantIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        await db.UsageLogs.Where(l => tenantIds.Contains(l.TenantId)).ExecuteDeleteAsync(cancellationToken);
        await db.UsageRollups.Where(r => tenantIds.Contains(r.TenantId)).ExecuteDeleteAsync(cancellationToken);
        await db.UsageRollupsHour.Where(r => tenantIds.Contains(r.TenantId)).ExecuteDeleteAsync(cancellationToken);
        await db.UsageRollupsDay.Where(r => tenantIds.Contains(r.TenantId)).ExecuteDeleteAsync(cancellationToken);
        await db.QuotaCounters.Where(c => tenantIds.Contains(c.TenantId)).ExecuteDeleteAsync(cancellationToken);
    }
}
