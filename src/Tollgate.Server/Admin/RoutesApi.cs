using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.Options;
using Tollgate.Data;

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

    /// <summary>Maps the routes on the admin group.</summary>
    public static void Map(RouteGroupBuilder admin)
    {
        var routes = admin.MapGroup("/routes").WithTags("Routes").RequireAuthorization(AdminPolicies.SuperAdmin);
        routes.MapGet("", ListAsync);
        routes.MapGet("/{id:long}", GetAsync);
        routes.MapPost("", CreateAsync);
        routes.MapPatch("/{id:long}", PatchAsync);
        routes.MapDelete("/{id:long}", DeleteAsync);
    }

    private static async Task<Ok<List<RouteDto>>> ListAsync(RouteService routes, CancellationToken ct) =>
        TypedResults.Ok(await routes.ListAsync(ct));

    private static async Task<Results<Ok<RouteDto>, ProblemHttpResult>> GetAsync(long id, RouteService routes, CancellationToken ct) =>
        await routes.FindAsync(id, ct) is { } route ? TypedResults.Ok(route) : AdminValidation.NotFound($"Route {id}");

    private static async Task<Results<Created<RouteDto>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        CreateRouteRequest request, HttpContext http, RouteService routes, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        var path = Path(request.Path, errors) ?? "";
        var upstream = Upstream(request.Upstream, errors) ?? "";
        var cost = Cost(request.Cost ?? 1, errors);
        var timeout = Timeout(request.TimeoutSeconds ?? 30, errors);
        if (errors.Count > 0)
        {
            return AdminValidation.Problem(errors);
        }

        if (await routes.PathTakenAsync(path, exceptId: null, ct))
        {
            return AdminValidation.Conflict($"A route for '{path}' already exists.");
        }

        var route = await routes.CreateAsync(path, upstream, request.Metered ?? true, cost, timeout, AdminScope.From(http.User), ct);
        return route is null
            ? AdminValidation.Conflict($"A route for '{path}' already exists.")
            : TypedResults.Created($"/api/admin/routes/{route.Id}", route);
    }

    private static async Task<Results<Ok<RouteDto>, ValidationProblem, ProblemHttpResult>> PatchAsync(
        long id, JsonElement body, HttpContext http, RouteService routes,
        IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json, CancellationToken ct)
    {
        var route = await routes.LoadAsync(id, ct);
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

        if (await routes.PathTakenAsync(route.Path, exceptId: id, ct))
        {
            return AdminValidation.Conflict($"A route for '{route.Path}' already exists.");
        }

        await routes.UpdateAsync(route, before, AdminScope.From(http.User), ct);
        return TypedResults.Ok(RouteDto.From(route));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(
        long id, HttpContext http, RouteService routes, CancellationToken ct)
    {
        var route = await routes.LoadAsync(id, ct);
        if (route is null)
        {
            return AdminValidation.NotFound($"Route {id}");
        }

        await routes.DeleteAsync(route, AdminScope.From(http.User), ct);
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
