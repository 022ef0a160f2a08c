using Microsoft.EntityFrameworkCore;
using Tollgate.Data;

namespace Tollgate.Admin;

/// <summary>What to read from the audit log: every member is optional and they combine with AND.</summary>
/// <param name="Actor">Exact admin user name.</param>
/// <param name="TenantId">Tenant concerned.</param>
/// <param name="Action">An action (<c>key.rotate</c>) or a family of them ending in a dot (<c>key.</c>).</param>
/// <param name="From">Entries at or after (UTC).</param>
/// <param name="To">Entries before (UTC).</param>
/// <param name="Before">Entries with an id below this one: the cursor of the next, older page.</param>
internal sealed record AuditFilter(string? Actor, long? TenantId, string? Action, DateTime? From, DateTime? To, long? Before);

/// <summary>Reads the audit log (the writes are <see cref="AuditTrail"/>'s, in the transaction of each change).</summary>
internal sealed class AuditQuery(TollgateDbContext db)
{
    /// <summary>One page.</summary>
    public Task<List<AuditDto>> PageAsync(AdminScope scope, AuditFilter filter, int limit, CancellationToken ct) =>
        Query(scope, filter).Take(limit).ToListAsync(ct);

    /// <summary>Up to <paramref name="limit"/> entries, streamed from the database as they are read (for exports).</summary>
    public IAsyncEnumerable<AuditDto> Stream(AdminScope scope, AuditFilter filter, int limit) =>
        Query(scope, filter).Take(limit).AsAsyncEnumerable();

    /// <summary>Entries newest first, limited to what <paramref name="scope"/> may see.</summary>
    private IQueryable<AuditDto> Query(AdminScope scope, AuditFilter filter)
    {
        var query = db.AuditLog.AsNoTracking();
        if (!scope.SeesAllTenants)
        {
            query = query.Where(a => a.TenantId == scope.TenantId);
        }

        if (filter.TenantId is { } tenant)
        {
            query = query.Where(a => a.TenantId == tenant);
        }

        if (!string.IsNullOrEmpty(filter.Actor))
        {
            query = query.Where(a => a.Actor == filter.Actor);
        }

        if (!string.IsNullOrEmpty(filter.Action))
        {
            query = filter.Action.EndsWith('.')
                ? query.Where(a => a.Action.StartsWith(filter.Action))
                : query.Where(a => a.Action == filter.Action);
        }

        if (filter.From is { } from)
        {
            query = query.Where(a => a.Timestamp >= from);
        }

        if (filter.To is { } to)
        {
            query = query.Where(a => a.Timestamp < to);
        }

        if (filter.Before is { } before)
        {
            query = query.Where(a => a.Id < before);
        }

        // Ids grow with time, so id order is time order, and the cursor is just the last id of a page.
        return query.OrderByDescending(a => a.Id)
            .Select(a => new AuditDto(a.Id, a.Timestamp, a.Actor, a.Action, a.Target, a.TenantId, a.Details));
    }
}
