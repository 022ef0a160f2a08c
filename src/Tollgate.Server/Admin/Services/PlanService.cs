using Microsoft.EntityFrameworkCore;
using Tollgate.Data;
using Tollgate.Keys;

namespace Tollgate.Admin;

/// <summary>The admin side's reads and changes of <c>plans</c>; each change is saved with its audit entry, in one transaction.</summary>
internal sealed class PlanService(TollgateDbContext db, IChangeFeed changes, TimeProvider time)
{
    /// <summary>Every plan, smallest quota first.</summary>
    public async Task<List<PlanDto>> ListAsync(CancellationToken ct)
    {
        var plans = await db.Plans.AsNoTracking().OrderBy(p => p.QuotaLimit).ThenBy(p => p.Id).ToListAsync(ct);
        return plans.Select(PlanDto.From).ToList();
    }

    /// <summary>One plan, or null.</summary>
    public async Task<PlanDto?> FindAsync(long id, CancellationToken ct) =>
        await db.Plans.AsNoTracking().FirstOrDefaultAsync(p => p.Id == id, ct) is { } plan ? PlanDto.From(plan) : null;

    /// <summary>Whether a plan exists.</summary>
    public Task<bool> ExistsAsync(long id, CancellationToken ct) => db.Plans.AnyAsync(p => p.Id == id, ct);

    /// <summary>Whether another plan than <paramref name="exceptId"/> has this name.</summary>
    public Task<bool> NameTakenAsync(string name, long? exceptId, CancellationToken ct) =>
        exceptId is { } id ? db.Plans.AnyAsync(p => p.Name == name && p.Id != id, ct) : db.Plans.AnyAsync(p => p.Name == name, ct);

    /// <summary>Creates a plan; a unique-name race ends in the unique index (409 from the error handler).</summary>
    public async Task<PlanDto> CreateAsync(
        string name, QuotaDto quota, RateDto? rate, IReadOnlyList<int> alertThresholds, AdminScope actor, CancellationToken ct)
    {
        var plan = new Plan
        {
            Name = name,
            QuotaLimit = quota.Limit,
            QuotaPeriod = quota.Period,
            RateLimit = rate?.Limit,
            RateWindowSeconds = rate?.WindowSeconds,
            AlertThresholds = [.. alertThresholds],
            CreatedAt = time.GetUtcNow().UtcDateTime,
        };
        db.Plans.Add(plan);
        await AuditTrail.SaveWithEntryAsync(db, () =>
            AuditTrail.Add(db, time, actor, "plan.create", $"plan/{plan.Id}", null, PlanDto.From(plan)), ct);
        return PlanDto.From(plan);
    }

    /// <summary>The tracked entity, for a change.</summary>
    public Task<Plan?> LoadAsync(long id, CancellationToken ct) => db.Plans.FirstOrDefaultAsync(p => p.Id == id, ct);

    /// <summary>Saves a changed plan with its audit entry; every instance reloads its tenants' limits.</summary>
    public async Task UpdateAsync(Plan plan, AdminScope actor, CancellationToken ct)
    {
        AuditTrail.Add(db, time, actor, "plan.update", $"plan/{plan.Id}", null, PlanDto.From(plan));
        await AuditTrail.SaveAsync(db, ct);
        await changes.PlanChangedAsync(plan.Id, ct);
    }

    /// <summary>Whether any tenant is on the plan (a plan in use may not go).</summary>
    public Task<bool> HasTenantsAsync(long id, CancellationToken ct) => db.Tenants.AnyAsync(t => t.PlanId == id, ct);

    /// <summary>Deletes a plan with its audit entry.</summary>
    public async Task DeleteAsync(Plan plan, AdminScope actor, CancellationToken ct)
    {
        db.Plans.Remove(plan);
        AuditTrail.Add(db, time, actor, "plan.delete", $"plan/{plan.Id}", null, new { plan.Name });
        await AuditTrail.SaveAsync(db, ct);
    }
}
