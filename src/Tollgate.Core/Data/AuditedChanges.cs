using System.Globalization;
using System.Linq.Expressions;
using Microsoft.EntityFrameworkCore;

namespace Tollgate.Data;

/// <summary>
/// What the audit log shows changed since a time: every admin change writes its entry in the same transaction, so an
/// instance that no change feed reaches learns there what to read again (the periodic resync of keys and tenants).
/// </summary>
internal static class AuditedChanges
{
    // Audit rows are stamped by the clock of the instance that wrote them: a resync looks this far before its last pass.
    private static readonly TimeSpan ClockMargin = TimeSpan.FromMinutes(1);

    /// <summary>The distinct targets (<c>kind/id</c>, e.g. <c>tenant/12</c>) of the entries matching <paramref name="actions"/>.</summary>
    public static async Task<List<(string Kind, long Id)>> SinceAsync(
        TollgateDbContext db, DateTime since, Expression<Func<AuditEntry, bool>> actions, CancellationToken cancellationToken)
    {
        var from = since - ClockMargin;
        var targets = await db.AuditLog.AsNoTracking().Where(a => a.Timestamp >= from).Where(actions)
            .Select(a => a.Target).Distinct().ToListAsync(cancellationToken);
        var changes = new List<(string Kind, long Id)>(targets.Count);
        foreach (var target in targets)
        {
            var slash = target.IndexOf('/', StringComparison.Ordinal);
            if (slash > 0 && long.TryParse(target.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var id))
            {
                changes.Add((target[..slash], id));
            }
        }

        return changes;
    }
}
