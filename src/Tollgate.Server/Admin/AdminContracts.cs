using System.Text.Json.Serialization;
using Tollgate.Data;
using Tollgate.Limits;

namespace Tollgate.Admin;

/// <summary>A quota in the admin API: <c>{"limit":1000,"period":"Month"}</c>.</summary>
/// <param name="Limit">Admitted requests per period.</param>
/// <param name="Period">Minute, Hour, Day or Month.</param>
/// <remarks>Both members are required: a quota without its period once became a quota per minute.</remarks>
public sealed record QuotaDto([property: JsonRequired] long Limit, [property: JsonRequired] QuotaPeriod Period);

/// <summary>A rate in the admin API: <c>{"limit":50,"windowSeconds":1}</c>.</summary>
/// <param name="Limit">Requests per window.</param>
/// <param name="WindowSeconds">Window length in seconds.</param>
public sealed record RateDto([property: JsonRequired] int Limit, [property: JsonRequired] int WindowSeconds);

/// <summary>A plan.</summary>
/// <param name="Id">Plan id.</param>
/// <param name="Name">Plan name.</param>
/// <param name="Quota">The quota.</param>
/// <param name="Rate">The rate, or null.</param>
/// <param name="AlertThresholds">Percentages of the quota that raise a <c>quota.threshold</c> alert.</param>
public sealed record PlanDto(long Id, string Name, QuotaDto Quota, RateDto? Rate, IReadOnlyList<int> AlertThresholds)
{
    /// <summary>Maps an entity.</summary>
    public static PlanDto From(Plan p) => new(
        p.Id, p.Name, new QuotaDto(p.QuotaLimit, p.QuotaPeriod),
        p.RateLimit is { } limit && p.RateWindowSeconds is { } window ? new RateDto(limit, window) : null,
        p.AlertThresholds);
}

/// <summary>Body of <c>POST /api/admin/plans</c>.</summary>
/// <param name="Name">Plan name.</param>
/// <param name="Quota">The quota.</param>
/// <param name="Rate">The rate, or null.</param>
/// <param name="AlertThresholds">Alert thresholds in percent; default 80 and 100.</param>
public sealed record CreatePlanRequest(string? Name, QuotaDto? Quota, RateDto? Rate, IReadOnlyList<int>? AlertThresholds = null);

/// <summary>A tenant.</summary>
/// <param name="Id">Tenant id.</param>
/// <param name="Name">Tenant name.</param>
/// <param name="PlanId">Plan id.</param>
/// <param name="Status">Active or Suspended.</param>
/// <param name="QuotaOverride">Quota replacing the plan's, or null.</param>
/// <param name="RateOverride">Rate replacing the plan's, or null.</param>
public sealed record TenantDto(long Id, string Name, long PlanId, TenantStatus Status, QuotaDto? QuotaOverride, RateDto? RateOverride)
{
    /// <summary>Maps an entity.</summary>
    public static TenantDto From(Tenant t) => new(
        t.Id, t.Name, t.PlanId, t.Status,
        t.QuotaOverrideLimit is { } q ? new QuotaDto(q, t.QuotaOverridePeriod ?? QuotaPeriod.Month) : null,
        t.RateOverrideLimit is { } r && t.RateOverrideWindowSeconds is { } w ? new RateDto(r, w) : null);
}

/// <summary>Body of <c>POST /api/admin/tenants</c>.</summary>
/// <param name="Name">Tenant name.</param>
/// <param name="PlanId">Plan id.</param>
/// <param name="QuotaOverride">Optional quota override.</param>
/// <param name="RateOverride">Optional rate override.</param>
public sealed record CreateTenantRequest(string? Name, long? PlanId, QuotaDto? QuotaOverride, RateDto? RateOverride);

/// <summary>A key as listed: never the key itself.</summary>
/// <param name="Id">Key id.</param>
/// <param name="Name">Label.</param>
/// <param name="Start">Visible start.</param>
/// <param name="CreatedAt">Created (UTC).</param>
/// <param name="LastUsedAt">Last metered use (UTC).</param>
/// <param name="ExpiresAt">Expiry (UTC).</param>
/// <param name="RevokedAt">Revocation (UTC).</param>
public sealed record KeyDto(long Id, string Name, string Start, DateTime CreatedAt, DateTime? LastUsedAt, DateTime? ExpiresAt, DateTime? RevokedAt)
{
    /// <summary>Maps an entity.</summary>
    public static KeyDto From(ApiKey k) => new(k.Id, k.Name, k.Start, k.CreatedAt, k.LastUsedAt, k.ExpiresAt, k.RevokedAt);
}

/// <summary>Body of <c>POST /api/admin/tenants/{id}/keys</c>.</summary>
/// <param name="Name">Label; "default" when empty.</param>
/// <param name="ExpiresAt">Optional expiry (UTC), in the future.</param>
public sealed record CreateKeyRequest(string? Name, DateTime? ExpiresAt);

/// <summary>Answer of key creation: the whole key, shown this once.</summary>
/// <param name="Id">Key id.</param>
/// <param name="Name">Label.</param>
/// <param name="Start">Visible start.</param>
/// <param name="Key">The whole key.</param>
public sealed record CreatedKeyDto(long Id, string Name, string Start, string Key);

/// <summary>A tenant's end user in the admin API.</summary>
/// <param name="Id">User id.</param>
/// <param name="Username">User name.</param>
/// <param name="CreatedAt">Created (UTC).</param>
public sealed record AdminUserDto(long Id, string Username, DateTime CreatedAt);

/// <summary>Body of <c>POST /api/auth/login</c>.</summary>
/// <param name="Username">User name.</param>
/// <param name="Password">Password.</param>
/// <param name="Code">With two-factor sign-in: the authenticator's 6-digit code, or a recovery code.</param>
public sealed record LoginRequest(string? Username, string? Password, string? Code = null);

/// <summary>Answer of <c>POST /api/auth/totp/setup</c>: the secret to put in an authenticator app.</summary>
/// <param name="Secret">Base32 secret.</param>
/// <param name="Uri">The <c>otpauth://</c> URI of it.</param>
public sealed record TotpSetupDto(string Secret, string Uri);

/// <summary>Body of <c>POST /api/auth/totp/enable</c>.</summary>
/// <param name="Code">A current code from the authenticator.</param>
public sealed record TotpEnableRequest(string? Code);

/// <summary>Answer of <c>POST /api/auth/totp/enable</c>: recovery codes, shown once.</summary>
/// <param name="RecoveryCodes">Ten single-use codes.</param>
public sealed record TotpEnabledDto(IReadOnlyList<string> RecoveryCodes);

/// <summary>Body of <c>POST /api/auth/totp/disable</c>.</summary>
/// <param name="Password">The admin's password.</param>
public sealed record TotpDisableRequest(string? Password);

/// <summary>Answer of a successful login.</summary>
/// <param name="Username">User name.</param>
/// <param name="Role">Role.</param>
/// <param name="TenantId">Tenant of a tenant admin.</param>
public sealed record LoginResponse(string Username, AdminRole Role, long? TenantId);

/// <summary>Body of <c>POST /api/admin/setup</c>.</summary>
/// <param name="Reset">Delete the demo tenants and their usage first.</param>
/// <param name="HistoryDays">Days of simulated past traffic for newly created demo tenants, 0 to 90. Default 7.</param>
public sealed record SetupRequest(bool Reset = false, int HistoryDays = 7);

/// <summary>A demo tenant with the key made for it by this call.</summary>
/// <param name="Id">Tenant id.</param>
/// <param name="Name">Tenant name.</param>
/// <param name="ApiKey">The whole key, shown this once; null when keys were not asked for.</param>
public sealed record SetupTenantDto(long Id, string Name, string? ApiKey);

/// <summary>Answer of <c>POST /api/admin/setup</c>.</summary>
/// <param name="Tenants">The demo tenants.</param>
public sealed record SetupResponse(IReadOnlyList<SetupTenantDto> Tenants);

/// <summary>One row of the live table.</summary>
/// <param name="Id">Tenant id.</param>
/// <param name="Name">Tenant name.</param>
/// <param name="Plan">Plan name.</param>
/// <param name="Used">Admitted requests this period.</param>
/// <param name="Limit">Quota.</param>
/// <param name="Remaining">Requests left.</param>
/// <param name="Status">Normal, Warning or Blocked.</param>
/// <param name="RequestsLastMinute">Metered requests in the last 60 s.</param>
/// <param name="P95LatencyMs">95th percentile latency of the last 60 s, or null.</param>
/// <param name="ErrorRate">Share of the last 60 s' requests answered with an error.</param>
/// <param name="ResetAt">When the quota period resets (UTC).</param>
/// <param name="TenantStatus">Active or Suspended.</param>
public sealed record DashboardTenantDto(
    long Id, string Name, string Plan, long Used, long Limit, long Remaining, UsageStatus Status,
    long RequestsLastMinute, double? P95LatencyMs, double ErrorRate, DateTime ResetAt, TenantStatus TenantStatus);

/// <summary>The live table.</summary>
/// <param name="GeneratedAt">When the snapshot was taken (UTC).</param>
/// <param name="Tenants">One row per tenant.</param>
/// <param name="Storage">Where usage events go: the dashboard shows a banner unless it is the database.</param>
public sealed record DashboardDto(DateTime GeneratedAt, IReadOnlyList<DashboardTenantDto> Tenants, DashboardStorageDto Storage);

/// <summary>Where usage events go, for the dashboard's banner.</summary>
/// <param name="State">Healthy, Spooling, Dropping or Refusing (see <see cref="Usage.UsageStorageState"/>).</param>
/// <param name="Since">When that state began (UTC); null while healthy.</param>
/// <param name="SpooledEvents">Events in the spool, not yet in the database.</param>
/// <param name="DroppedRows">Raw rows dropped since start (WhenStorageFails=Admit).</param>
/// <param name="RefusedRequests">Requests refused with 503 since start (WhenStorageFails=Refuse).</param>
public sealed record DashboardStorageDto(
    Usage.UsageStorageState State, DateTime? Since, long SpooledEvents, long DroppedRows, long RefusedRequests);

/// <summary>An audit entry.</summary>
/// <param name="Id">Entry id.</param>
/// <param name="Timestamp">When (UTC).</param>
/// <param name="Actor">Who.</param>
/// <param name="Action">What.</param>
/// <param name="Target">On what.</param>
/// <param name="TenantId">Tenant concerned.</param>
/// <param name="Details">JSON details.</param>
public sealed record AuditDto(long Id, DateTime Timestamp, string Actor, string Action, string Target, long? TenantId, string? Details);

/// <summary>An admin account in the admins API.</summary>
/// <param name="Id">Admin id.</param>
/// <param name="Username">Login name.</param>
/// <param name="Role">SuperAdmin, TenantAdmin or Viewer.</param>
/// <param name="TenantId">The one tenant of a tenant admin or viewer; null = all tenants.</param>
public sealed record AdminDto(long Id, string Username, AdminRole Role, long? TenantId)
{
    /// <summary>Maps an entity.</summary>
    public static AdminDto From(Data.Admin a) => new(a.Id, a.Username, a.Role, a.TenantId);
}

/// <summary>Answer of <c>POST /api/admin/admins</c>: the account, and its password when Tollgate generated it (shown once).</summary>
/// <param name="Id">Admin id.</param>
/// <param name="Username">Login name.</param>
/// <param name="Role">Role.</param>
/// <param name="TenantId">Tenant, or null.</param>
/// <param name="Password">The generated password, or null when the request gave one.</param>
public sealed record CreatedAdminDto(long Id, string Username, AdminRole Role, long? TenantId, string? Password);

/// <summary>Body of <c>POST /api/admin/admins</c>.</summary>
/// <param name="Username">Login name.</param>
/// <param name="Role">Role.</param>
/// <param name="TenantId">Tenant (required for a tenant admin, optional for a viewer, absent for a super admin).</param>
/// <param name="Password">Optional password (12 to 1024 characters); generated when absent.</param>
public sealed record CreateAdminRequest(string? Username, AdminRole? Role, long? TenantId, string? Password);

/// <summary>Body of <c>POST /api/auth/password</c>.</summary>
/// <param name="CurrentPassword">The password in use.</param>
/// <param name="NewPassword">The new one, 12 to 1024 characters.</param>
public sealed record ChangePasswordRequest(string? CurrentPassword, string? NewPassword);

/// <summary>Body of <c>POST /api/admin/tenants/{id}/keys/{keyId}/rotate</c>.</summary>
/// <param name="GracePeriodSeconds">How long the old key keeps working, 0 to 2,592,000 (30 days). Default 3600.</param>
/// <param name="ExpiresAt">Optional expiry of the new key (UTC).</param>
public sealed record RotateKeyRequest(int? GracePeriodSeconds, DateTime? ExpiresAt);

/// <summary>A gateway route as the admin API shows it.</summary>
/// <param name="Id">Route id.</param>
/// <param name="Path">Route pattern, e.g. <c>/orders/{**rest}</c>.</param>
/// <param name="Upstream">Where requests go, e.g. <c>http://127.0.0.1:8080/</c>.</param>
/// <param name="Metered">False: forwarded without a key, counted nowhere.</param>
/// <param name="Cost">Units an admitted request counts.</param>
/// <param name="TimeoutSeconds">How long the upstream may stay silent before a 504.</param>
public sealed record RouteDto(long Id, string Path, string Upstream, bool Metered, int Cost, int TimeoutSeconds)
{
    /// <summary>Maps the entity.</summary>
    public static RouteDto From(GatewayRoute route) =>
        new(route.Id, route.Path, route.Upstream, route.Metered, route.Cost, route.TimeoutSeconds);
}

/// <summary>Body of <c>POST /api/admin/routes</c>.</summary>
/// <param name="Path">Route pattern.</param>
/// <param name="Upstream">Absolute http(s) address.</param>
/// <param name="Metered">Default true.</param>
/// <param name="Cost">Default 1.</param>
/// <param name="TimeoutSeconds">Default 30.</param>
public sealed record CreateRouteRequest(string? Path, string? Upstream, bool? Metered, int? Cost, int? TimeoutSeconds);
