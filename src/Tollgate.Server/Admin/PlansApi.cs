using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Tollgate.Admin;

/// <summary><c>/api/admin/plans</c>: plans are shared by every tenant, so only super admins change them.</summary>
internal static class PlansApi
{
    /// <summary>Maps the routes on the admin group.</summary>
    public static void Map(RouteGroupBuilder admin)
    {
        var plans = admin.MapGroup("/plans").WithTags("Plans");
        plans.MapGet("", ListAsync);
        plans.MapGet("/{id:long}", GetAsync);
        plans.MapPost("", CreateAsync).RequireAuthorization(AdminPolicies.SuperAdmin);
        plans.MapPatch("/{id:long}", PatchAsync).RequireAuthorization(AdminPolicies.SuperAdmin);
        plans.MapDelete("/{id:long}", DeleteAsync).RequireAuthorization(AdminPolicies.SuperAdmin);
    }

    private static async Task<Ok<List<PlanDto>>> ListAsync(PlanService plans, CancellationToken ct) =>
        TypedResults.Ok(await plans.ListAsync(ct));

    private static async Task<Results<Ok<PlanDto>, ProblemHttpResult>> GetAsync(long id, PlanService plans, CancellationToken ct) =>
        await plans.FindAsync(id, ct) is { } plan ? TypedResults.Ok(plan) : AdminValidation.NotFound($"Plan {id}");

    private static async Task<Results<Created<PlanDto>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        CreatePlanRequest request, HttpContext http, PlanService plans, CancellationToken ct)
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

        if (await plans.NameTakenAsync(name!, exceptId: null, ct))
        {
            return AdminValidation.Conflict($"A plan named '{name}' already exists.");
        }

        var plan = await plans.CreateAsync(
            name!, request.Quota!, request.Rate, Alerts.QuotaThresholds.Normalize(request.AlertThresholds ?? Alerts.QuotaThresholds.Default),
            AdminScope.From(http.User), ct);
        return TypedResults.Created($"/api/admin/plans/{plan.Id}", plan);
    }

    private static async Task<Results<Ok<PlanDto>, ValidationProblem, ProblemHttpResult>> PatchAsync(
        long id, JsonElement body, HttpContext http, PlanService plans,
        IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json, CancellationToken ct)
    {
        var plan = await plans.LoadAsync(id, ct);
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

        if (await plans.NameTakenAsync(plan.Name, exceptId: id, ct))
        {
            return AdminValidation.Conflict($"A plan named '{plan.Name}' already exists.");
        }

        await plans.UpdateAsync(plan, AdminScope.From(http.User), ct);
        return TypedResults.Ok(PlanDto.From(plan));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(
        long id, HttpContext http, PlanService plans, CancellationToken ct)
    {
        var plan = await plans.LoadAsync(id, ct);
        if (plan is null)
        {
            return AdminValidation.NotFound($"Plan {id}");
        }

        if (await plans.HasTenantsAsync(id, ct))
        {
            return AdminValidation.Conflict($"Plan '{plan.Name}' still has tenants; move them to another plan first.");
        }

        await plans.DeleteAsync(plan, AdminScope.From(http.User), ct);
        return TypedResults.NoContent();
    }
}
