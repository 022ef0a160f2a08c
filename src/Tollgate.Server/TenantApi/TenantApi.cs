using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Tollgate.Data;
using Tollgate.Keys;
using Tollgate.Limits;
using Tollgate.Metering;

namespace Tollgate.TenantApi;

/// <summary>The tenant API under <c>/api/v1</c>, authenticated by <c>X-API-KEY</c>.</summary>
public static class TenantApiEndpoints
{
    /// <summary>Maps the tenant API. Every route is metered except <c>/usage</c>.</summary>
    public static IEndpointRouteBuilder MapTenantApi(this IEndpointRouteBuilder routes)
    {
        var api = routes.MapGroup("/api/v1").WithTags("Tenant API");
        api.MapGet("/usage", GetUsageAsync).RequireApiKeyOnly();

        var metered = api.MapGroup("").RequireMetering();
        metered.MapGet("/ping", Ping);
        metered.MapGet("/users", ListUsersAsync);
        metered.MapPost("/users", CreateUserAsync);
        metered.MapGet("/users/{id:long}", GetUserAsync);
        metered.MapDelete("/users/{id:long}", DeleteUserAsync);
        return routes;
    }

    /// <summary>The cheapest metered route: touches no database.</summary>
    internal static Ok<PingResponse> Ping(HttpContext context) => TypedResults.Ok(new PingResponse(Caller(context).Tenant.Name));

    internal static async Task<Ok<UsageResponse>> GetUsageAsync(HttpContext context, ILimitStore limits, CancellationToken ct)
    {
        var tenant = Caller(context).Tenant;
        var usage = await limits.PeekAsync(tenant, ct);
        return TypedResults.Ok(new UsageResponse(
            tenant.Name, tenant.PlanName, usage.Used, usage.Limit, usage.Remaining, usage.Period, usage.ResetAt, usage.Status));
    }

    internal static async Task<Ok<UsersResponse>> ListUsersAsync(HttpContext context, TollgateDbContext db, CancellationToken ct)
    {
        var tenantId = Caller(context).Tenant.Id;
        var users = await db.Users.AsNoTracking()
            .Where(u => u.TenantId == tenantId)
            .OrderBy(u => u.Id)
            .Select(u => new UserResponse(u.Id, u.Username))
            .ToListAsync(ct);
        return TypedResults.Ok(new UsersResponse(users));
    }

    internal static async Task<Results<Created<UserResponse>, ValidationProblem, ProblemHttpResult>> CreateUserAsync(
        HttpContext context, CreateUserRequest request, TollgateDbContext db, TimeProvider time, CancellationToken ct)
    {
        var username = request.Username?.Trim();
        if (string.IsNullOrEmpty(username) || username.Length > User.MaxUsernameLength)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["username"] = [$"A username of 1 to {User.MaxUsernameLength} characters is required."],
            });
        }

        var tenantId = Caller(context).Tenant.Id;
        if (await db.Users.AnyAsync(u => u.TenantId == tenantId && u.Username == username, ct))
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Conflict",
                detail: $"A user named '{username}' already exists.");
        }

        var user = new User { TenantId = tenantId, Username = username, CreatedAt = time.GetUtcNow().UtcDateTime };
        db.Users.Add(user);
        await db.SaveChangesAsync(ct);
        return TypedResults.Created($"/api/v1/users/{user.Id}", new UserResponse(user.Id, user.Username));
    }

    internal static async Task<Results<Ok<UserResponse>, ProblemHttpResult>> GetUserAsync(
        HttpContext context, long id, TollgateDbContext db, CancellationToken ct)
    {
        var tenantId = Caller(context).Tenant.Id;
        var user = await db.Users.AsNoTracking()
            .Where(u => u.Id == id && u.TenantId == tenantId)
            .Select(u => new UserResponse(u.Id, u.Username))
            .FirstOrDefaultAsync(ct);
        return user is null ? UserNotFound(id) : TypedResults.Ok(user);
    }

    internal static async Task<Results<NoContent, ProblemHttpResult>> DeleteUserAsync(
        HttpContext context, long id, TollgateDbContext db, CancellationToken ct)
    {
        var tenantId = Caller(context).Tenant.Id;
        var deleted = await db.Users.Where(u => u.Id == id && u.TenantId == tenantId).ExecuteDeleteAsync(ct);
        return deleted == 0 ? UserNotFound(id) : TypedResults.NoContent();
    }

    private static ProblemHttpResult UserNotFound(long id) =>
        TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not Found", detail: $"User {id} does not exist.");

    // The metering middleware has put the caller there; an endpoint in this group cannot run without it.
    private static ApiCaller Caller(HttpContext context) =>
        context.Features.Get<ApiCaller>() ?? throw new InvalidOperationException("The endpoint is not behind the metering pipeline.");
}

/// <summary>Answer of <c>GET /api/v1/ping</c>.</summary>
/// <param name="Tenant">The calling tenant's name.</param>
public sealed record PingResponse(string Tenant);

/// <summary>Answer of <c>GET /api/v1/usage</c>.</summary>
/// <param name="Tenant">Tenant name.</param>
/// <param name="Plan">Plan name.</param>
/// <param name="Used">Admitted requests this period.</param>
/// <param name="Limit">The quota.</param>
/// <param name="Remaining">Requests left.</param>
/// <param name="Period">The quota period.</param>
/// <param name="ResetAt">When the next period starts (UTC).</param>
/// <param name="Status">Normal, Warning or Blocked.</param>
public sealed record UsageResponse(
    string Tenant, string Plan, long Used, long Limit, long Remaining, QuotaPeriod Period, DateTime ResetAt, UsageStatus Status);

/// <summary>A tenant's end user.</summary>
/// <param name="Id">User id.</param>
/// <param name="Username">User name.</param>
public sealed record UserResponse(long Id, string Username);

/// <summary>Answer of <c>GET /api/v1/users</c>.</summary>
/// <param name="Users">The calling tenant's users.</param>
public sealed record UsersResponse(IReadOnlyList<UserResponse> Users);

/// <summary>Body of <c>POST /api/v1/users</c>.</summary>
/// <param name="Username">User name, 1 to 254 characters.</param>
public sealed record CreateUserRequest(string? Username);
