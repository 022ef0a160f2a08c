using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Tollgate.Data;

namespace Tollgate.Admin;

/// <summary><c>/api/admin/admins</c>: super admins create, change and delete admin accounts.</summary>
internal static class AdminsApi
{
    /// <summary>Maps the routes on the admin group.</summary>
    public static void Map(RouteGroupBuilder admin)
    {
        var admins = admin.MapGroup("/admins").WithTags("Admins").RequireAuthorization(AdminPolicies.SuperAdmin);
        admins.MapGet("", ListAsync);
        admins.MapPost("", CreateAsync);
        admins.MapGet("/{id:long}", GetAsync);
        admins.MapPatch("/{id:long}", PatchAsync);
        admins.MapDelete("/{id:long}", DeleteAsync);
    }

    private static async Task<Ok<List<AdminDto>>> ListAsync(AdminAccounts accounts, CancellationToken ct) =>
        TypedResults.Ok(await accounts.ListAsync(ct));

    private static async Task<Results<Ok<AdminDto>, ProblemHttpResult>> GetAsync(long id, AdminAccounts accounts, CancellationToken ct) =>
        await accounts.FindAsync(id, ct) is { } admin ? TypedResults.Ok(admin) : AdminValidation.NotFound($"Admin {id}");

    private static async Task<Results<Created<CreatedAdminDto>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        CreateAdminRequest request, HttpContext http, AdminAccounts accounts, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        var username = AdminValidation.Name(request.Username, errors, "username");
        if (request.Password is not null)
        {
            AdminValidation.Password(request.Password, errors);
        }

        if (request.Role is not { } role || !Enum.IsDefined(role))
        {
            errors["role"] = ["The role must be SuperAdmin, TenantAdmin or Viewer."];
        }
        else
        {
            await CheckTenantAsync(role, request.TenantId, accounts, errors, ct);
        }

        if (errors.Count > 0)
        {
            return AdminValidation.Problem(errors);
        }

        if (await accounts.UsernameTakenAsync(username!, ct))
        {
            return AdminValidation.Conflict($"An admin named '{username}' already exists.");
        }

        var password = request.Password ?? AdminAccounts.GeneratePassword();
        var created = await accounts.CreateAsync(username!, request.Role!.Value, request.TenantId, password, AdminScope.From(http.User), ct);
        return TypedResults.Created($"/api/admin/admins/{created.Id}", new CreatedAdminDto(
            created.Id, created.Username, created.Role, created.TenantId, request.Password is null ? password : null));
    }

    private static async Task<Results<Ok<AdminDto>, ValidationProblem, ProblemHttpResult>> PatchAsync(
        long id, JsonElement body, HttpContext http, AdminAccounts accounts,
        IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json, CancellationToken ct)
    {
        var admin = await accounts.LoadAsync(id, ct);
        if (admin is null)
        {
            return AdminValidation.NotFound($"Admin {id}");
        }

        var patch = new MergePatch(body, json.Value.SerializerOptions);
        var errors = new Dictionary<string, string[]>();
        if (!patch.IsObject)
        {
            errors[""] = ["The body must be a JSON object."];
            return AdminValidation.Problem(errors);
        }

        var wasSuperAdmin = admin.Role == AdminRole.SuperAdmin;
        if (patch.TryRead<AdminRole?>("role", errors, out var role))
        {
            if (role is { } r && Enum.IsDefined(r))
            {
                admin.Role = r;
            }
            else
            {
                errors["role"] = ["The role must be SuperAdmin, TenantAdmin or Viewer."];
            }
        }

        if (patch.TryRead<long?>("tenantId", errors, out var tenantId))
        {
            admin.TenantId = tenantId;
        }
        else if (patch.Has("role") && admin.Role == AdminRole.SuperAdmin)
        {
            // A promotion to super admin drops the tenant without the caller having to say so.
            admin.TenantId = null;
        }

        string? password = null;
        if (patch.TryRead<string>("password", errors, out var newPassword))
        {
            AdminValidation.Password(newPassword, errors);
            password = newPassword;
        }

        if (!errors.ContainsKey("role"))
        {
            await CheckTenantAsync(admin.Role, admin.TenantId, accounts, errors, ct);
        }

        if (errors.Count > 0)
        {
            return AdminValidation.Problem(errors);
        }

        if (wasSuperAdmin && admin.Role != AdminRole.SuperAdmin && !await accounts.AnotherSuperAdminExistsAsync(id, ct))
        {
            return AdminValidation.Conflict("This is the last super admin; make another one first.");
        }

        await accounts.UpdateAsync(admin, password, AdminScope.From(http.User), ct);
        return TypedResults.Ok(AdminDto.From(admin));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(
        long id, HttpContext http, AdminAccounts accounts, CancellationToken ct)
    {
        var admin = await accounts.LoadAsync(id, ct);
        if (admin is null)
        {
            return AdminValidation.NotFound($"Admin {id}");
        }

        if (admin.Role == AdminRole.SuperAdmin && !await accounts.AnotherSuperAdminExistsAsync(id, ct))
        {
            return AdminValidation.Conflict("This is the last super admin; make another one first.");
        }

        await accounts.DeleteAsync(admin, AdminScope.From(http.User), ct);
        return TypedResults.NoContent();
    }

    private static async Task CheckTenantAsync(AdminRole role, long? tenantId, AdminAccounts accounts, Dictionary<string, string[]> errors, CancellationToken ct)
    {
        switch (role)
        {
            case AdminRole.SuperAdmin when tenantId is not null:
                errors["tenantId"] = ["A super admin has no tenant."];
                break;
            case AdminRole.TenantAdmin when tenantId is null:
                errors["tenantId"] = ["A tenant admin needs a tenantId."];
                break;
            default:
                if (tenantId is { } id && !await accounts.TenantExistsAsync(id, ct))
                {
                    errors["tenantId"] = ["An existing tenantId is required."];
                }

                break;
        }
    }
}
