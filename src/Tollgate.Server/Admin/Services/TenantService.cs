using Microsoft.EntityFrameworkCore;
using Tollgate.Data;
using Tollgate.Keys;

namespace Tollgate.Admin;

/// <summary>
/// The admin side's reads and changes of <c>tenants</c> and reads of their <c>users</c>. Each change is saved with
/// its audit entry in one transaction, then announced on the change feed so every instance's directory follows.
/// </summary>
internal sealed class TenantService(TollgateDbContext db, IChangeFeed changes, TimeProvider time)
{
    /// <summary>The tenants <paramref name="scope"/> may see, by name.</summary>
    public async Task<List<TenantDto>> ListAsync(AdminScope scope, CancellationToken ct)
    {
        var query = db.Tenants.AsNoTracking();
        if (!scope.SeesAllTenants)
        {
            query = query.Where(t => t.Id == scope.TenantId);
        }

        var tenants = await query.OrderBy(t => t.Name).ToListAsync(ct);
        return tenants.Select(TenantDto.From).ToList();
    }

    /// <summary>The tenant, or null when it does not exist or <paramref name="scope"/> may not see it (both a 404).</summary>
    public async Task<TenantDto?> FindVisibleAsync(AdminScope scope, long id, CancellationToken ct)
    {
        if (!scope.CanSee(id))
        {
            return null;
        }

        return await db.Tenants.AsNoTracking().FirstOrDefaultAsync(t => t.Id == id, ct) is { } tenant ? TenantDto.From(tenant) : null;
    }

    /// <summary>Whether another tenant than <paramref name="exceptId"/> has this name.</summary>
    public Task<bool> NameTakenAsync(string name, long? exceptId, CancellationToken ct) =>
        exceptId is { } id ? db.Tenants.AnyAsync(t => t.Name == name && t.Id != id, ct) : db.Tenants.AnyAsync(t => t.Name == name, ct);

    /// <summary>Creates an active tenant; a unique-name race ends in the unique index (409 from the error handler).</summary>
    public async Task<TenantDto> CreateAsync(
        string name, long planId, QuotaDto? quotaOverride, RateDto? rateOverride, AdminScope actor, CancellationToken ct)
    {
        var tenant = new Tenant
        {
            Name = name,
            PlanId = planId,
            Status = TenantStatus.Active,
            CreatedAt = time.GetUtcNow().UtcDateTime,
        };
        SetQuotaOverride(tenant, quotaOverride);
        SetRateOverride(tenant, rateOverride);
        db.Tenants.Add(tenant);
        await AuditTrail.SaveWithEntryAsync(db, () =>
            AuditTrail.Add(db, time, actor, "tenant.create", $"tenant/{tenant.Id}", tenant.Id, TenantDto.From(tenant)), ct);
        await changes.TenantChangedAsync(tenant.Id, ct);
        return TenantDto.From(tenant);
    }

    /// <summary>The tracked entity, for a change.</summary>
    public Task<Tenant?> LoadAsync(long id, CancellationToken ct) => db.Tenants.FirstOrDefaultAsync(t => t.Id == id, ct);

    /// <summary>Saves a changed tenant with its audit entry.</summary>
    public async Task UpdateAsync(Tenant tenant, AdminScope actor, CancellationToken ct)
    {
        AuditTrail.Add(db, time, actor, "tenant.update", $"tenant/{tenant.Id}", tenant.Id, TenantDto.From(tenant));
        await AuditTrail.SaveAsync(db, ct);
        // Requests read the tenant from the directory, so the new plan, limits or status apply from the next one.
        await changes.TenantChangedAsync(tenant.Id, ct);
    }

    /// <summary>Deletes a tenant with its audit entry; its keys, users and tenant admins go with it (cascade), its usage history stays.</summary>
    public async Task DeleteAsync(Tenant tenant, AdminScope actor, CancellationToken ct)
    {
        db.Tenants.Remove(tenant);
        AuditTrail.Add(db, time, actor, "tenant.delete", $"tenant/{tenant.Id}", tenant.Id, new { tenant.Name });
        await AuditTrail.SaveAsync(db, ct);
        await changes.TenantRemovedAsync(tenant.Id, ct);
    }

    /// <summary>The tenant's end users, oldest first.</summary>
    public Task<List<AdminUserDto>> ListUsersAsync(long tenantId, CancellationToken ct) =>
        db.Users.AsNoTracking()
            .Where(u => u.TenantId == tenantId)
            .OrderBy(u => u.Id)
            .Select(u => new AdminUserDto(u.Id, u.Username, u.CreatedAt))
            .ToListAsync(ct);

    /// <summary>Sets or (null) clears the tenant's own quota.</summary>
    public static void SetQuotaOverride(Tenant tenant, QuotaDto? quota)
    {
        tenant.QuotaOverrideLimit = quota?.Limit;
        tenant.QuotaOverridePeriod = quota?.Period;
    }

    /// <summary>Sets or (null) clears the tenant's own rate.</summary>
    public static void SetRateOverride(Tenant tenant, RateDto? rate)
    {
        tenant.RateOverrideLimit = rate?.Limit;
        tenant.RateOverrideWindowSeconds = rate?.WindowSeconds;
    }
}
