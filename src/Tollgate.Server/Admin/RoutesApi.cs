using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Tollgate.Data;
using Tollgate.Keys;

namespace Tollgate.Admin;

/// <summary>
/// <c>/api/admin/routes</c>: gateway routes kept in the database (CONTRACT §7). A route forwards everything under
/// the whole server, so only super admins see or change them; each change is applied on every instance through the
/// change feed.
/// </summary>
internal static class RoutesApi
{
    /// <summary>Most units one request may cost.</summary>
    public const int MaxCost = 1_000_000;

    /// <summary>Longest upstream timeout a route may set, in seconds.</summary>
    public const int MaxTimeoutSeconds = 3600;

    public static void Map(RouteGroupBuilder admin)
    {
        var routes = admin.MapGroup("/routes").WithTags("Routes").RequireAuthorization(AdminPolicies.SuperAdmin);
        routes.MapGet("", ListAsync);
        routes.MapGet("/{id:long}", GetAsync);
        routes.MapPost("", CreateAsync);
        routes.MapPatch("/{id:long}", PatchAsync);
        routes.MapDelete("/{id:long}", DeleteAsync);
    }

    private static async Task<Ok<List<RouteDto>>> ListAsync(TollgateDbContext db, CancellationToken ct)
    {
        var routes = await db.GatewayRoutes.AsNoTracking().OrderBy(r => r.Path).ToListAsync(ct);
        return TypedResults.Ok(routes.Select(RouteDto.From).ToList());
    }

    private static async Task<Results<Ok<RouteDto>, ProblemHttpResult>> GetAsync(long id, TollgateDbContext db, CancellationToken ct)
    {
        var route = await db.GatewayRoutes.AsNoTracking().FirstOrDefaultAsync(r => r.Id == id, ct);
        return route is null ? AdminValidation.NotFound($"Route {id}") : TypedResults.Ok(RouteDto.From(route));
    }

    private static async Task<Results<Created<RouteDto>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        CreateRouteRequest request, HttpContext http, TollgateDbContext db, IChangeFeed changes, TimeProvider time, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        var route = new GatewayRoute
        {
            Path = Path(request.Path, errors) ?? "",
            Upstream = Upstream(request.Upstream, errors) ?? "",
            Metered = request.Metered ?? true,
            Cost = Cost(request.Cost ?? 1, errors),
            TimeoutSeconds = Timeout(request.TimeoutSeconds ?? 30, errors),
            CreatedAt = time.GetUtcNow().UtcDateTime,
        };
        if (errors.Count > 0)
        {
            return AdminValidation.Problem(errors);
        }

        if (await db.GatewayRoutes.AnyAsync(r => r.Path == route.Path, ct))
        {
            return AdminValidation.Conflict($"A route for '{route.Path}' already exists.");
        }

        db.GatewayRoutes.Add(route);
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            // Two concurrent creates of one path: the unique index lets one through.
            return AdminValidation.Conflict($"A route for '{route.Path}' already exists.");
        }

        AuditTrail.Add(db, time, AdminScope.From(http.User), "route.create", $"route/{route.Id}", null, RouteDto.From(route));
        await db.SaveChangesAsync(ct);
        await changes.RoutesChangedAsync(ct);
        return TypedResults.Created($"/api/admin/routes/{route.Id}", RouteDto.From(route));
    }

    private static async Task<Results<Ok<RouteDto>, ValidationProblem, ProblemHttpResult>> PatchAsync(
        long id, JsonElement body, HttpContext http, TollgateDbContext db, IChangeFeed changes,
        IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json, TimeProvider time, CancellationToken ct)
    {
        var route = await db.GatewayRoutes.FirstOrDefaultAsync(r => r.Id == id, ct);
        if (route is null)
        {
            return AdminValidation.NotFound($"Route {id}");
        }

        var before = RouteDto.From(route);
        var patch = new MergePatch(body, json.Value.SerializerOptions);
        var errors = new Dictionary<string, string[]>();
        if (!patch.IsObject)
        {
            errors[""] = ["The body must be a JSON object."];
            return AdminValidation.Problem(errors);
        }

        if (patch.TryRead<string>("path", errors, out var path))
        {
            route.Path = Path(path, errors) ?? route.Path;
        }

        if (patch.TryRead<string>("upstream", errors, out var upstream))
        {
            route.Upstream = Upstream(upstream, errors) ?? route.Upstream;
        }

        if (patch.TryRead<bool?>("metered", errors, out var metered))
        {
            route.Metered = metered ?? true;
        }

        if (patch.TryRead<int?>("cost", errors, out var cost))
        {
            route.Cost = Cost(cost ?? 1, errors);
        }

        if (patch.TryRead<int?>("timeoutSeconds", errors, out var timeout))
        {
            route.TimeoutSeconds = Timeout(timeout ?? 30, errors);
        }

        if (errors.Count > 0)
        {
            return AdminValidation.Problem(errors);
        }

        if (await db.GatewayRoutes.AnyAsync(r => r.Path == route.Path && r.Id != id, ct))
        {
            return AdminValidation.Conflict($"A route for '{route.Path}' already exists.");
        }

        AuditTrail.Add(db, time, AdminScope.From(http.User), "route.update", $"route/{id}", null, new { before, after = RouteDto.From(route) });
        await db.SaveChangesAsync(ct);
        await changes.RoutesChangedAsync(ct);
        return TypedResults.Ok(RouteDto.From(route));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(
        long id, HttpContext http, TollgateDbContext db, IChangeFeed changes, TimeProvider time, CancellationToken ct)
    {
        var route = await db.GatewayRoutes.FirstOrDefaultAsync(r => r.Id == id, ct);
        if (route is null)
        {
            return AdminValidation.NotFound($"Route {id}");
        }

        db.GatewayRoutes.Remove(route);
        AuditTrail.Add(db, time, AdminScope.From(http.User), "route.delete", $"route/{id}", null, RouteDto.From(route));
        await db.SaveChangesAsync(ct);
        await changes.RoutesChangedAsync(ct);
        return TypedResults.NoContent();
    }

    /// <summary>
    /// A route pattern YARP and ASP.NET Core routing accept, outside Tollgate's own <c>/api</c> (the tenant API and
    /// the admin API must never be shadowed by a forwarded route).
    /// </summary>
    private static string? Path(string? value, Dictionary<string, string[]> errors)
    {
        var path = value?.Trim();
        if (string.IsNullOrEmpty(path) || path[0] != '/' || path.Length > GatewayRoute.MaxPathLength)
        {
            errors["path"] = [$"The path is a route pattern starting with '/', at most {GatewayRoute.MaxPathLength} characters, e.g. /orders/{{**rest}}."];
            return null;
        }

        try
        {
            RoutePatternFactory.Parse(path);
        }
        catch (RoutePatternException ex)
        {
            errors["path"] = [$"Not a route pattern: {ex.Message}"];
            return null;
        }

        if (path.Equals("/api", StringComparison.OrdinalIgnoreCase) || path.StartsWith("/api/", StringComparison.OrdinalIgnoreCase))
        {
            errors["path"] = ["Paths under /api are Tollgate's own."];
            return null;
        }

        return path;
    }

    private static string? Upstream(string? value, Dictionary<string, string[]> errors)
    {
        if (value is null || value.Length > GatewayRoute.MaxUpstreamLength
            || !Uri.TryCreate(value, UriKind.Absolute, out var uri)
            || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
            || !string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.Fragment))
        {
            errors["upstream"] = ["The upstream is an absolute http or https address without query, e.g. http://127.0.0.1:8080/."];
            return null;
        }

        return value;
    }

    private static int Cost(int value, Dictionary<string, string[]> errors)
    {
        if (value < 1 || value > MaxCost)
        {
            errors["cost"] = [$"The cost is a whole number of units from 1 to {MaxCost}."];
        }

        return value;
    }

    private static int Timeout(int value, Dictionary<string, string[]> errors)
    {
        if (value < 1 || value > MaxTimeoutSeconds)
        {
            errors["timeoutSeconds"] = [$"The timeout is from 1 to {MaxTimeoutSeconds} seconds."];
        }

        return value;
    }
}

/// <summary>A gateway route as the admin API shows it.</summary>
/// <param name="Id">Route id.</param>
/// <param name="Path">Route pattern, e.g. <c>/orders/{**rest}</c>.</param>
/// <param name="Upstream">Where requests go, e.g. <c>http://127.0.0.1:8080/</c>.</param>
/// <param name="Metered">False: forwarded without a key, counted nowhere.</param>
/// <param name="Cost">Units an admitted request counts.</param>
/// <param name="TimeoutSeconds">How long the upstream may stay silent before a 504.</param>
public sealed record RouteDto(long Id, string Path, string Upstream, bool Metered, int Cost, int TimeoutSeconds)
{
    /// <summary>Maps the entity.</summary>
    public static RouteDto From(GatewayRoute route) =>
        new(route.Id, route.Path, route.Upstream, route.Metered, route.Cost, route.TimeoutSeconds);
}

/// <summary>Body of <c>POST /api/admin/routes</c>.</summary>
/// <param name="Path">Route pattern.</param>
/// <param name="Upstream">Absolute http(s) address.</param>
/// <param name="Metered">Default true.</param>
/// <param name="Cost">Default 1.</param>
/// <param name="TimeoutSeconds">Default 30.</param>
public sealed record CreateRouteRequest(string? Path, string? Upstream, bool? Metered, int? Cost, int? TimeoutSeconds);
