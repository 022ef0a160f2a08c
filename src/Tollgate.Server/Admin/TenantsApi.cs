using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Tollgate.Data;
using Tollgate.Keys;
using Tollgate.Limits;
using Tollgate.Usage;

namespace Tollgate.Admin;

/// <summary>
/// <c>/api/admin/tenants</c>, their keys and users. A tenant admin sees only its own tenant: any other id is 404,
/// exactly as if it did not exist.
/// </summary>
internal static class TenantsApi
{
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

    /// <summary>Longest grace period a rotated key may keep working: 30 days.</summary>
    public const int MaxGracePeriodSeconds = 30 * 86_400;

    private static async Task<Ok<List<TenantDto>>> ListAsync(HttpContext http, TollgateDbContext db, CancellationToken ct)
    {
        var scope = AdminScope.From(http.User);
        var query = db.Tenants.AsNoTracking();
        if (!scope.SeesAllTenants)
        {
            query = query.Where(t => t.Id == scope.TenantId);
        }

        var tenants = await query.OrderBy(t => t.Name).ToListAsync(ct);
        return TypedResults.Ok(tenants.Select(TenantDto.From).ToList());
    }

    private static async Task<Results<Ok<TenantDto>, ProblemHttpResult>> GetAsync(
        long id, HttpContext http, TollgateDbContext db, CancellationToken ct)
    {
        var tenant = await FindVisibleAsync(db, http, id, ct);
        return tenant is null ? AdminValidation.NotFound($"Tenant {id}") : TypedResults.Ok(TenantDto.From(tenant));
    }

    private static async Task<Results<Created<TenantDto>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        CreateTenantRequest request, HttpContext http, TollgateDbContext db, IChangeFeed changes,
        TimeProvider time, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        var name = AdminValidation.Name(request.Name, errors);
        AdminValidation.Quota(request.QuotaOverride, errors, "quotaOverride", required: false);
        AdminValidation.Rate(request.RateOverride, errors, "rateOverride");
        if (request.PlanId is not { } planId || !await db.Plans.AnyAsync(p => p.Id == planId, ct))
        {
            errors["planId"] = ["An existing planId is required."];
        }

        if (errors.Count > 0)
        {
            return AdminValidation.Problem(errors);
        }

        if (await db.Tenants.AnyAsync(t => t.Name == name, ct))
        {
            return AdminValidation.Conflict($"A tenant named '{name}' already exists.");
        }

        var tenant = new Tenant
        {
            Name = name!,
            PlanId = request.PlanId!.Value,
            Status = TenantStatus.Active,
            CreatedAt = time.GetUtcNow().UtcDateTime,
        };
        ApplyQuotaOverride(tenant, request.QuotaOverride);
        ApplyRateOverride(tenant, request.RateOverride);
        await using (var tx = await db.Database.BeginTransactionAsync(ct))
        {
            db.Tenants.Add(tenant);
            await db.SaveChangesAsync(ct);
            AuditTrail.Add(db, time, AdminScope.From(http.User), "tenant.create", $"tenant/{tenant.Id}", tenant.Id, TenantDto.From(tenant));
            await db.SaveChangesAsync(ct);
            await tx.CommitAsync(ct);
        }

        await changes.TenantsChangedAsync(ct);
        return TypedResults.Created($"/api/admin/tenants/{tenant.Id}", TenantDto.From(tenant));
    }

    private static async Task<Results<Ok<TenantDto>, ValidationProblem, ProblemHttpResult>> PatchAsync(
        long id, JsonElement body, HttpContext http, TollgateDbContext db, IChangeFeed changes,
        IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json, TimeProvider time, CancellationToken ct)
    {
        var tenant = await db.Tenants.FirstOrDefaultAsync(t => t.Id == id, ct);
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
            if (planId is { } p && await db.Plans.AnyAsync(x => x.Id == p, ct))
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
            ApplyQuotaOverride(tenant, quota);
        }

        if (patch.TryRead<RateDto>("rateOverride", errors, out var rate))
        {
            AdminValidation.Rate(rate, errors, "rateOverride");
            ApplyRateOverride(tenant, rate);
        }

        if (errors.Count > 0)
        {
            return AdminValidation.Problem(errors);
        }

        if (await db.Tenants.AnyAsync(t => t.Name == tenant.Name && t.Id != id, ct))
        {
            return AdminValidation.Conflict($"A tenant named '{tenant.Name}' already exists.");
        }

        AuditTrail.Add(db, time, AdminScope.From(http.User), "tenant.update", $"tenant/{id}", id, TenantDto.From(tenant));
        await db.SaveChangesAsync(ct);
        // Requests read the tenant from the directory, so the new plan, limits or status apply from the next one.
        await changes.TenantsChangedAsync(ct);
        return TypedResults.Ok(TenantDto.From(tenant));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(
        long id, HttpContext http, TollgateDbContext db, IChangeFeed changes, TimeProvider time, CancellationToken ct)
    {
        var tenant = await db.Tenants.FirstOrDefaultAsync(t => t.Id == id, ct);
        if (tenant is null)
        {
            return AdminValidation.NotFound($"Tenant {id}");
        }

        // Keys, users and tenant admins go with the tenant (cascade); the usage history stays for the record.
        db.Tenants.Remove(tenant);
        AuditTrail.Add(db, time, AdminScope.From(http.User), "tenant.delete", $"tenant/{id}", id, new { tenant.Name });
        await db.SaveChangesAsync(ct);
        await changes.TenantRemovedAsync(id, ct);
        return TypedResults.NoContent();
    }

    private static async Task<Results<Ok<List<AdminUserDto>>, ProblemHttpResult>> ListUsersAsync(
        long id, HttpContext http, TollgateDbContext db, CancellationToken ct)
    {
        if (await FindVisibleAsync(db, http, id, ct) is null)
        {
            return AdminValidation.NotFound($"Tenant {id}");
        }

        var users = await db.Users.AsNoTracking()
            .Where(u => u.TenantId == id)
            .OrderBy(u => u.Id)
            .Select(u => new AdminUserDto(u.Id, u.Username, u.CreatedAt))
            .ToListAsync(ct);
        return TypedResults.Ok(users);
    }

    private static async Task<Results<Ok<List<KeyDto>>, ProblemHttpResult>> ListKeysAsync(
        long id, HttpContext http, TollgateDbContext db, CancellationToken ct)
    {
        if (await FindVisibleAsync(db, http, id, ct) is null)
        {
            return AdminValidation.NotFound($"Tenant {id}");
        }

        var keys = await db.ApiKeys.AsNoTracking().Where(k => k.TenantId == id).OrderBy(k => k.Id).ToListAsync(ct);
        return TypedResults.Ok(keys.Select(KeyDto.From).ToList());
    }

    private static async Task<Results<Created<CreatedKeyDto>, ValidationProblem, ProblemHttpResult>> CreateKeyAsync(
        long id, CreateKeyRequest? request, HttpContext http, TollgateDbContext db, IChangeFeed changes, TimeProvider time, CancellationToken ct)
    {
        if (await FindVisibleAsync(db, http, id, ct) is null)
        {
            return AdminValidation.NotFound($"Tenant {id}");
        }

        var errors = new Dictionary<string, string[]>();
        var name = string.IsNullOrWhiteSpace(request?.Name) ? "default" : AdminValidation.Name(request.Name, errors);
        var now = time.GetUtcNow().UtcDateTime;
        var expiresAt = AdminValidation.FutureTime(request?.ExpiresAt, now, errors, "expiresAt");

        if (errors.Count > 0)
        {
            return AdminValidation.Problem(errors);
        }

        var (key, entity) = NewKey(id, name!, now, expiresAt);
        await using (var tx = await db.Database.BeginTransactionAsync(ct))
        {
            db.ApiKeys.Add(entity);
            await db.SaveChangesAsync(ct);
            AuditTrail.Add(db, time, AdminScope.From(http.User), "key.create", $"key/{entity.Id}", id, new { entity.Name, entity.Start, entity.ExpiresAt });
            await db.SaveChangesAsync(ct);
            await tx.CommitAsync(ct);
        }

        await changes.KeyCreatedAsync(KeyHash.FromBytes(entity.Hash), ct);
        return TypedResults.Created($"/api/admin/tenants/{id}/keys/{entity.Id}", new CreatedKeyDto(entity.Id, entity.Name, entity.Start, key));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> RevokeKeyAsync(
        long id, long keyId, HttpContext http, TollgateDbContext db, IChangeFeed changes, TimeProvider time, CancellationToken ct)
    {
        if (await FindVisibleAsync(db, http, id, ct) is null)
        {
            return AdminValidation.NotFound($"Tenant {id}");
        }

        var key = await db.ApiKeys.FirstOrDefaultAsync(k => k.Id == keyId && k.TenantId == id, ct);
        if (key is null)
        {
            return AdminValidation.NotFound($"Key {keyId}");
        }

        // Revoking keeps the row (its usage history refers to it); revoking twice keeps the first time.
        key.RevokedAt ??= time.GetUtcNow().UtcDateTime;
        AuditTrail.Add(db, time, AdminScope.From(http.User), "key.revoke", $"key/{keyId}", id, new { key.Name, key.Start });
        await db.SaveChangesAsync(ct);
        await changes.KeyRevokedAsync(KeyHash.FromBytes(key.Hash), ct);
        return TypedResults.NoContent();
    }

    /// <summary>
    /// Makes a new key for the tenant of an existing one and lets the old one work for a grace period: clients move to
    /// the new key without an outage. The new key belongs to the same tenant, so usage history and quota stay one.
    /// The old key's row is not revoked but given an expiry (never later than the one it had), which every instance
    /// learns through the change feed.
    /// </summary>
    private static async Task<Results<Created<CreatedKeyDto>, ValidationProblem, ProblemHttpResult>> RotateKeyAsync(
        long id, long keyId, RotateKeyRequest? request, HttpContext http, TollgateDbContext db, IChangeFeed changes,
        TimeProvider time, CancellationToken ct)
    {
        if (await FindVisibleAsync(db, http, id, ct) is null)
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

        var old = await db.ApiKeys.FirstOrDefaultAsync(k => k.Id == keyId && k.TenantId == id, ct);
        if (old is null)
        {
            return AdminValidation.NotFound($"Key {keyId}");
        }

        if (old.RevokedAt is not null || old.ExpiresAt <= now)
        {
            return AdminValidation.Conflict($"Key {keyId} no longer works; create a new key instead.");
        }

        var graceEnds = now.AddSeconds(grace);
        old.ExpiresAt = old.ExpiresAt is { } e && e < graceEnds ? e : graceEnds;
        var (key, entity) = NewKey(id, old.Name, now, expiresAt);
        await using (var tx = await db.Database.BeginTransactionAsync(ct))
        {
            db.ApiKeys.Add(entity);
            await db.SaveChangesAsync(ct);
            AuditTrail.Add(db, time, AdminScope.From(http.User), "key.rotate", $"key/{keyId}", id,
                new { oldKeyId = keyId, newKeyId = entity.Id, entity.Name, entity.Start, oldKeyExpiresAt = old.ExpiresAt });
            await db.SaveChangesAsync(ct);
            await tx.CommitAsync(ct);
        }

        // Every instance learns the new key and forgets the old one, so its next use reads the new expiry.
        await changes.KeyCreatedAsync(KeyHash.FromBytes(entity.Hash), ct);
        await changes.KeyRevokedAsync(KeyHash.FromBytes(old.Hash), ct);
        return TypedResults.Created($"/api/admin/tenants/{id}/keys/{entity.Id}", new CreatedKeyDto(entity.Id, entity.Name, entity.Start, key));
    }

    /// <summary>Makes a key and the row that stores its hash; the key itself is never stored.</summary>
    internal static (string Key, ApiKey Entity) NewKey(long tenantId, string name, DateTime now, DateTime? expiresAt)
    {
        var key = ApiKeyFormat.Generate();
        return (key, new ApiKey
        {
            TenantId = tenantId,
            Name = name,
            Hash = ApiKeyFormat.HashToBytes(key),
            Start = ApiKeyFormat.StartOf(key),
            CreatedAt = now,
            ExpiresAt = expiresAt,
        });
    }

    private static async Task<Tenant?> FindVisibleAsync(TollgateDbContext db, HttpContext http, long id, CancellationToken ct)
    {
        var scope = AdminScope.From(http.User);
        if (!scope.CanSee(id))
        {
            return null;
        }

        return await db.Tenants.AsNoTracking().FirstOrDefaultAsync(t => t.Id == id, ct);
    }

    private static void ApplyQuotaOverride(Tenant tenant, QuotaDto? quota)
    {
        tenant.QuotaOverrideLimit = quota?.Limit;
        tenant.QuotaOverridePeriod = quota?.Period;
    }

    private static void ApplyRateOverride(Tenant tenant, RateDto? rate)
    {
        tenant.RateOverrideLimit = rate?.Limit;
        tenant.RateOverrideWindowSeconds = rate?.WindowSeconds;
    }
}
