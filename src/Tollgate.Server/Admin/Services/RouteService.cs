using Microsoft.EntityFrameworkCore;
using Tollgate.Data;
using Tollgate.Keys;

namespace Tollgate.Admin;

/// <summary>
/// The admin side's reads and changes of <c>gateway_routes</c>. Each change is saved with its audit entry in one
/// transaction, then announced on the change feed so every instance's proxy configuration follows within a second.
/// </summary>
internal sealed class RouteService(TollgateDbContext db, IChangeFeed changes, TimeProvider time)
{
    /// <summary>Every route, by path.</summary>
    public async Task<List<RouteDto>> ListAsync(CancellationToken ct)
    {
        var routes = await db.GatewayRoutes.AsNoTracking().OrderBy(r => r.Path).ToListAsync(ct);
        return routes.Select(RouteDto.From).ToList();
    }

    /// <summary>One route, or null.</summary>
    public async Task<RouteDto?> FindAsync(long id, CancellationToken ct) =>
        await db.GatewayRoutes.AsNoTracking().FirstOrDefaultAsync(r => r.Id == id, ct) is { } route ? RouteDto.From(route) : null;

    /// <summary>Whether another route than <paramref name="exceptId"/> has this path.</summary>
    public Task<bool> PathTakenAsync(string path, long? exceptId, CancellationToken ct) =>
        exceptId is { } id
            ? db.GatewayRoutes.AnyAsync(r => r.Path == path && r.Id != id, ct)
            : db.GatewayRoutes.AnyAsync(r => r.Path == path, ct);

    /// <summary>Creates a route; null when a concurrent create of the same path won the unique index.</summary>
    public async Task<RouteDto?> CreateAsync(
        string path, string upstream, bool metered, int cost, int timeoutSeconds, AdminScope actor, CancellationToken ct)
    {
        var route = new GatewayRoute
        {
            Path = path,
            Upstream = upstream,
            Metered = metered,
            Cost = cost,
            TimeoutSeconds = timeoutSeconds,
            CreatedAt = time.GetUtcNow().UtcDateTime,
        };
        db.GatewayRoutes.Add(route);
        try
        {
            await AuditTrail.SaveWithEntryAsync(db, () =>
                AuditTrail.Add(db, time, actor, "route.create", $"route/{route.Id}", null, RouteDto.From(route)), ct);
        }
        catch (DbUpdateException ex) when (UniqueViolation.IsUpdate(ex))
        {
            // Two concurrent creates of one path: the unique index lets one through. Any other failure, the audit
            // entry's included, is not a conflict and goes to the error handler.
            return null;
        }

        await changes.RoutesChangedAsync(ct);
        return RouteDto.From(route);
    }

    /// <summary>The tracked entity, for a change.</summary>
    public Task<GatewayRoute?> LoadAsync(long id, CancellationToken ct) => db.GatewayRoutes.FirstOrDefaultAsync(r => r.Id == id, ct);

    /// <summary>Saves a changed route with an audit entry holding it before and after.</summary>
    public async Task UpdateAsync(GatewayRoute route, RouteDto before, AdminScope actor, CancellationToken ct)
    {
        AuditTrail.Add(db, time, actor, "route.update", $"route/{route.Id}", null, new { before, after = RouteDto.From(route) });
        await AuditTrail.SaveAsync(db, ct);
        await changes.RoutesChangedAsync(ct);
    }

    /// <summary>Deletes a route with its audit entry.</summary>
    public async Task DeleteAsync(GatewayRoute route, AdminScope actor, CancellationToken ct)
    {
        db.GatewayRoutes.Remove(route);
        AuditTrail.Add(db, time, actor, "route.delete", $"route/{route.Id}", null, RouteDto.From(route));
        await AuditTrail.SaveAsync(db, ct);
        await changes.RoutesChangedAsync(ct);
    }
}
