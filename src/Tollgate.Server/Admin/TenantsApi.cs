using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Tollgate.Data;

namespace Tollgate.Admin;

/// <summary>
/// <c>/api/admin/tenants</c>, their keys and users. A tenant admin sees only its own tenant: any other id is 404,
/// exactly as if it did not exist.
/// </summary>
internal static class TenantsApi
{
    /// <summary>Longest grace period a rotated key may keep working: 30 days.</summary>
    public const int MaxGracePeriodSeconds = 30 * 86_400;

    /// <summary>Maps the routes on the admin group.</summary>
    public static void Map(RouteGroupBuilder admin)
    {
        var tenants = admin.MapGroup("/tenants").WithTags("Tenants");
        tenants.MapGet("", ListAsync);
        tenants.MapPost("", CreateAsync).RequireAuthorization(AdminPolicies.SuperAdmin);
        tenants.MapGet("/{id:long}", GetAsync);
        tenants.MapPatch("/{id:long}", PatchAsync).RequireAuthorization(AdminPolicies.SuperAdmin);
        tenants.MapDelete("/{id:long}", DeleteAsync).RequireAuthorization(AdminPolicies.SuperAdmin);
        tenants.MapGet("/{id:long}/users", ListUsersAsync);

        var keys = tenants.MapGroup("/{id:long}/keys").WithTags("Keys");
        keys.MapGet("", ListKeysAsync);
        keys.MapPost("", CreateKeyAsync);
        keys.MapDelete("/{keyId:long}", RevokeKeyAsync);
        keys.MapPost("/{keyId:long}/rotate", RotateKeyAsync);
    }

    private static async Task<Ok<List<TenantDto>>> ListAsync(HttpContext http, TenantService tenants, CancellationToken ct) =>
        TypedResults.Ok(await tenants.ListAsync(AdminScope.From(http.User), ct));

    private static async Task<Results<Ok<TenantDto>, ProblemHttpResult>> GetAsync(
        long id, HttpContext http, TenantService tenants, CancellationToken ct) =>
        await tenants.FindVisibleAsync(AdminScope.From(http.User), id, ct) is { } tenant
            ? TypedResults.Ok(tenant)
            : AdminValidation.NotFound($"Tenant {id}");

    private static async Task<Results<Created<TenantDto>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        CreateTenantRequest request, HttpContext http, TenantService tenants, PlanService plans, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        var name = AdminValidation.Name(request.Name, errors);
        AdminValidation.Quota(request.QuotaOverride, errors, "quotaOverride", required: false);
        AdminValidation.Rate(request.RateOverride, errors, "rateOverride");
        if (request.PlanId is not { } planId || !await plans.ExistsAsync(planId, ct))
        {
            errors["planId"] = ["An existing planId is required."];
        }

        if (errors.Count > 0)
        {
            return AdminValidation.Problem(errors);
        }

        if (await tenants.NameTakenAsync(name!, exceptId: null, ct))
        {
            return AdminValidation.Conflict($"A tenant named '{name}' already exists.");
        }

        var tenant = await tenants.CreateAsync(name!, request.PlanId!.Value, request.QuotaOverride, request.RateOverride, AdminScope.From(http.User), ct);
        return TypedResults.Created($"/api/admin/tenants/{tenant.Id}", tenant);
    }

    private static async Task<Results<Ok<TenantDto>, ValidationProblem, ProblemHttpResult>> PatchAsync(
        long id, JsonElement body, HttpContext http, TenantService tenants, PlanService plans,
        IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json, CancellationToken ct)
    {
        var tenant = await tenants.LoadAsync(id, ct);
        if (tenant is null)
        {
            return AdminValidation.NotFound($"Tenant {id}");
        }

        var patch = new MergePatch(body, json.Value.SerializerOptions);
        var errors = new Dictionary<string, string[]>();
        if (!patch.IsObject)
        {
            errors[""] = ["The body must be a JSON object."];
            return AdminValidation.Problem(errors);
        }

        if (patch.TryRead<string>("name", errors, out var name))
        {
            tenant.Name = AdminValidation.Name(name, errors) ?? tenant.Name;
        }

        if (patch.TryRead<long?>("planId", errors, out var planId))
        {
            if (planId is { } p && await plans.ExistsAsync(p, ct))
            {
                tenant.PlanId = p;
            }
            else
            {
                errors["planId"] = ["An existing planId is required."];
            }
        }

        if (patch.TryRead<TenantStatus?>("status", errors, out var status))
        {
            if (status is { } s && Enum.IsDefined(s))
            {
                tenant.Status = s;
            }
            else
            {
                errors["status"] = ["The status must be Active or Suspended."];
            }
        }

        if (patch.TryRead<QuotaDto>("quotaOverride", errors, out var quota))
        {
            AdminValidation.Quota(quota, errors, "quotaOverride", required: false);
            TenantService.SetQuotaOverride(tenant, quota);
        }

        if (patch.TryRead<RateDto>("rateOverride", errors, out var rate))
        {
            AdminValidation.Rate(rate, errors, "rateOverride");
            TenantService.SetRateOverride(tenant, rate);
        }

        if (errors.Count > 0)
        {
            return AdminValidation.Problem(errors);
        }

        if (await tenants.NameTakenAsync(tenant.Name, exceptId: id, ct))
        {
            return AdminValidation.Conflict($"A tenant named '{tenant.Name}' already exists.");
        }

        await tenants.UpdateAsync(tenant, AdminScope.From(http.User), ct);
        return TypedResults.Ok(TenantDto.From(tenant));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(
        long id, HttpContext http, TenantService tenants, CancellationToken ct)
    {
        var tenant = await tenants.LoadAsync(id, ct);
        if (tenant is null)
        {
            return AdminValidation.NotFound($"Tenant {id}");
        }

        await tenants.DeleteAsync(tenant, AdminScope.From(http.User), ct);
        return TypedResults.NoContent();
    }

    private static async Task<Results<Ok<List<AdminUserDto>>, ProblemHttpResult>> ListUsersAsync(
        long id, HttpContext http, TenantService tenants, CancellationToken ct)
    {
        if (await tenants.FindVisibleAsync(AdminScope.From(http.User), id, ct) is null)
        {
            return AdminValidation.NotFound($"Tenant {id}");
        }

        return TypedResults.Ok(await tenants.ListUsersAsync(id, ct));
    }

    private static async Task<Results<Ok<List<KeyDto>>, ProblemHttpResult>> ListKeysAsync(
        long id, HttpContext http, TenantService tenants, KeyService keys, CancellationToken ct)
    {
        if (await tenants.FindVisibleAsync(AdminScope.From(http.User), id, ct) is null)
        {
            return AdminValidation.NotFound($"Tenant {id}");
        }

        return TypedResults.Ok(await keys.ListAsync(id, ct));
    }

    private static async Task<Results<Created<CreatedKeyDto>, ValidationProblem, ProblemHttpResult>> CreateKeyAsync(
        long id, CreateKeyRequest? request, HttpContext http, TenantService tenants, KeyService keys, TimeProvider time, CancellationToken ct)
    {
        if (await tenants.FindVisibleAsync(AdminScope.From(http.User), id, ct) is null)
        {
            return AdminValidation.NotFound($"Tenant {id}");
        }

        var errors = new Dictionary<string, string[]>();
        var name = string.IsNullOrWhiteSpace(request?.Name) ? "default" : AdminValidation.Name(request.Name, errors);
        var expiresAt = AdminValidation.FutureTime(request?.ExpiresAt, time.GetUtcNow().UtcDateTime, errors, "expiresAt");
        if (errors.Count > 0)
        {
            return AdminValidation.Problem(errors);
        }

        var key = await keys.CreateAsync(id, name!, expiresAt, AdminScope.From(http.User), ct);
        return TypedResults.Created($"/api/admin/tenants/{id}/keys/{key.Id}", key);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> RevokeKeyAsync(
        long id, long keyId, HttpContext http, TenantService tenants, KeyService keys, CancellationToken ct)
    {
        if (await tenants.FindVisibleAsync(AdminScope.From(http.User), id, ct) is null)
        {
            return AdminValidation.NotFound($"Tenant {id}");
        }

        var key = await keys.LoadAsync(id, keyId, ct);
        if (key is null)
        {
            return AdminValidation.NotFound($"Key {keyId}");
        }

        await keys.RevokeAsync(key, AdminScope.From(http.User), ct);
        return TypedResults.NoContent();
    }

    /// <summary>A new key for the tenant of an existing one; the old one keeps working for the grace period (see <see cref="KeyService.RotateAsync"/>).</summary>
    private static async Task<Results<Created<CreatedKeyDto>, ValidationProblem, ProblemHttpResult>> RotateKeyAsync(
        long id, long keyId, RotateKeyRequest? request, HttpContext http, TenantService tenants, KeyService keys,
        TimeProvider time, CancellationToken ct)
    {
        if (await tenants.FindVisibleAsync(AdminScope.From(http.User), id, ct) is null)
        {
            return AdminValidation.NotFound($"Tenant {id}");
        }

        var errors = new Dictionary<string, string[]>();
        var grace = request?.GracePeriodSeconds ?? 3600;
        if (grace is < 0 or > MaxGracePeriodSeconds)
        {
            errors["gracePeriodSeconds"] = [$"gracePeriodSeconds must be between 0 and {MaxGracePeriodSeconds}."];
        }

        var now = time.GetUtcNow().UtcDateTime;
        var expiresAt = AdminValidation.FutureTime(request?.ExpiresAt, now, errors, "expiresAt");
        if (errors.Count > 0)
        {
            return AdminValidation.Problem(errors);
        }

        var old = await keys.LoadAsync(id, keyId, ct);
        if (old is null)
        {
            return AdminValidation.NotFound($"Key {keyId}");
        }

        if (!KeyService.Works(old, now))
        {
            return AdminValidation.Conflict($"Key {keyId} no longer works; create a new key instead.");
        }

        var key = await keys.RotateAsync(old, TimeSpan.FromSeconds(grace), expiresAt, AdminScope.From(http.User), ct);
        return TypedResults.Created($"/api/admin/tenants/{id}/keys/{key.Id}", key);
    }
}
