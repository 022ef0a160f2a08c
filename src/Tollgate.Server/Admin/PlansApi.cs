using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Tollgate.Data;
using Tollgate.Keys;

namespace Tollgate.Admin;

/// <summary><c>/api/admin/plans</c>: plans are shared by every tenant, so only super admins change them.</summary>
internal static class PlansApi
{
    public static void Map(RouteGroupBuilder admin)
    {
        var plans = admin.MapGroup("/plans").WithTags("Plans");
        plans.MapGet("", ListAsync);
        plans.MapGet("/{id:long}", GetAsync);
        plans.MapPost("", CreateAsync).RequireAuthorization(AdminPolicies.SuperAdmin);
        plans.MapPatch("/{id:long}", PatchAsync).RequireAuthorization(AdminPolicies.SuperAdmin);
        plans.MapDelete("/{id:long}", DeleteAsync).RequireAuthorization(AdminPolicies.SuperAdmin);
    }

    private static async Task<Ok<List<PlanDto>>> ListAsync(TollgateDbContext db, CancellationToken ct)
    {
        var plans = await db.Plans.AsNoTracking().OrderBy(p => p.QuotaLimit).ThenBy(p => p.Id).ToListAsync(ct);
        return TypedResults.Ok(plans.Select(PlanDto.From).ToList());
    }

    private static async Task<Results<Ok<PlanDto>, ProblemHttpResult>> GetAsync(long id, TollgateDbContext db, CancellationToken ct)
    {
        var plan = await db.Plans.AsNoTracking().FirstOrDefaultAsync(p => p.Id == id, ct);
        return plan is null ? AdminValidation.NotFound($"Plan {id}") : TypedResults.Ok(PlanDto.From(plan));
    }

    private static async Task<Results<Created<PlanDto>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        CreatePlanRequest request, HttpContext http, TollgateDbContext db, TimeProvider time, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        var name = AdminValidation.Name(request.Name, errors);
        AdminValidation.Quota(request.Quota, errors, "quota", required: true);
        AdminValidation.Rate(request.Rate, errors, "rate");
        if (request.AlertThresholds is { } thresholds && Alerts.QuotaThresholds.Problem(thresholds) is { } thresholdProblem)
        {
            errors["alertThresholds"] = [thresholdProblem];
        }

        if (errors.Count > 0)
        {
            return AdminValidation.Problem(errors);
        }

        if (await db.Plans.AnyAsync(p => p.Name == name, ct))
        {
            return AdminValidation.Conflict($"A plan named '{name}' already exists.");
        }

        var plan = new Plan
        {
            Name = name!,
            QuotaLimit = request.Quota!.Limit,
            QuotaPeriod = request.Quota.Period,
            RateLimit = request.Rate?.Limit,
            RateWindowSeconds = request.Rate?.WindowSeconds,
            AlertThresholds = Alerts.QuotaThresholds.Normalize(request.AlertThresholds ?? Alerts.QuotaThresholds.Default),
            CreatedAt = time.GetUtcNow().UtcDateTime,
        };
        await using (var tx = await db.Database.BeginTransactionAsync(ct))
        {
            db.Plans.Add(plan);
            await db.SaveChangesAsync(ct);
            AuditTrail.Add(db, time, AdminScope.From(http.User), "plan.create", $"plan/{plan.Id}", null, PlanDto.From(plan));
            await db.SaveChangesAsync(ct);
            await tx.CommitAsync(ct);
        }

        return TypedResults.Created($"/api/admin/plans/{plan.Id}", PlanDto.From(plan));
    }

    private static async Task<Results<Ok<PlanDto>, ValidationProblem, ProblemHttpResult>> PatchAsync(
        long id, JsonElement body, HttpContext http, TollgateDbContext db, IChangeFeed changes,
        IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json, TimeProvider time, CancellationToken ct)
    {
        var plan = await db.Plans.FirstOrDefaultAsync(p => p.Id == id, ct);
        if (plan is null)
        {
            return AdminValidation.NotFound($"Plan {id}");
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
            plan.Name = AdminValidation.Name(name, errors) ?? plan.Name;
        }

        if (patch.TryRead<QuotaDto>("quota", errors, out var quota))
        {
            AdminValidation.Quota(quota, errors, "quota", required: true);
            if (quota is not null)
            {
                plan.QuotaLimit = quota.Limit;
                plan.QuotaPeriod = quota.Period;
            }
        }

        if (patch.TryRead<RateDto>("rate", errors, out var rate))
        {
            AdminValidation.Rate(rate, errors, "rate");
            plan.RateLimit = rate?.Limit;
            plan.RateWindowSeconds = rate?.WindowSeconds;
        }

        if (patch.TryRead<int[]>("alertThresholds", errors, out var thresholds))
        {
            if (Alerts.QuotaThresholds.Problem(thresholds) is { } thresholdProblem)
            {
                errors["alertThresholds"] = [thresholdProblem];
            }
            else
            {
                plan.AlertThresholds = Alerts.QuotaThresholds.Normalize(thresholds!);
            }
        }

        if (errors.Count > 0)
        {
            return AdminValidation.Problem(errors);
        }

        if (await db.Plans.AnyAsync(p => p.Name == plan.Name && p.Id != id, ct))
        {
            return AdminValidation.Conflict($"A plan named '{plan.Name}' already exists.");
        }

        AuditTrail.Add(db, time, AdminScope.From(http.User), "plan.update", $"plan/{id}", null, PlanDto.From(plan));
        await db.SaveChangesAsync(ct);
        await changes.TenantsChangedAsync(ct);
        return TypedResults.Ok(PlanDto.From(plan));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(
        long id, HttpContext http, TollgateDbContext db, TimeProvider time, CancellationToken ct)
    {
        var plan = await db.Plans.FirstOrDefaultAsync(p => p.Id == id, ct);
        if (plan is null)
        {
            return AdminValidation.NotFound($"Plan {id}");
        }

        if (await db.Tenants.AnyAsync(t => t.PlanId == id, ct))
        {
            return AdminValidation.Conflict($"Plan '{plan.Name}' still has tenants; move them to another plan first.");
        }

        db.Plans.Remove(plan);
        AuditTrail.Add(db, time, AdminScope.From(http.User), "plan.delete", $"plan/{id}", null, new { plan.Name });
        await db.SaveChangesAsync(ct);
        return TypedResults.NoContent();
    }
}
