using Tollgate.Data;
using Tollgate.Limits;

namespace Tollgate.Keys;

/// <summary>
/// What the request path knows of a tenant: an immutable snapshot, replaced whole when an admin changes the
/// tenant or its plan (see <see cref="TenantDirectory"/>).
/// </summary>
/// <param name="Id">Tenant id.</param>
/// <param name="Name">Tenant name.</param>
/// <param name="PlanId">Plan id.</param>
/// <param name="PlanName">Plan name.</param>
/// <param name="Status">Active or suspended.</param>
/// <param name="Policy">Effective limits: the plan's with the tenant's overrides.</param>
public sealed record TenantContext(long Id, string Name, long PlanId, string PlanName, TenantStatus Status, LimitPolicy Policy)
{
    /// <summary>Percentages of the quota that raise an alert: the tenant's override, else its plan's.</summary>
    public IReadOnlyList<int> AlertThresholds { get; init; } = Alerts.QuotaThresholds.Default;

    /// <summary>Builds the snapshot of a tenant and its plan.</summary>
    public static TenantContext From(Tenant tenant, Plan plan)
    {
        var policy = new LimitPolicy(
            tenant.QuotaOverrideLimit ?? plan.QuotaLimit,
            tenant.QuotaOverrideLimit is not null ? tenant.QuotaOverridePeriod ?? plan.QuotaPeriod : plan.QuotaPeriod,
            tenant.RateOverrideLimit ?? plan.RateLimit,
            tenant.RateOverrideLimit is not null ? tenant.RateOverrideWindowSeconds : plan.RateWindowSeconds);
        return new TenantContext(tenant.Id, tenant.Name, plan.Id, plan.Name, tenant.Status, policy)
        {
            AlertThresholds = tenant.AlertThresholdsOverride ?? plan.AlertThresholds,
        };
    }
}
