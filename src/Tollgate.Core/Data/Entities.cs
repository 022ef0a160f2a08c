using Tollgate.Limits;

namespace Tollgate.Data;

/// <summary>A named tier (Basic, Pro, …): a quota per calendar period and an optional rate.</summary>
public sealed class Plan
{
    /// <summary>Primary key.</summary>
    public long Id { get; set; }

    /// <summary>Unique display name.</summary>
    public required string Name { get; set; }

    /// <summary>Admitted requests allowed per <see cref="QuotaPeriod"/>.</summary>
    public long QuotaLimit { get; set; }

    /// <summary>The calendar period the quota counts over (UTC-aligned).</summary>
    public QuotaPeriod QuotaPeriod { get; set; }

    /// <summary>Requests allowed per rate window, or null for no rate limit.</summary>
    public int? RateLimit { get; set; }

    /// <summary>Length of the rate window in seconds; set exactly when <see cref="RateLimit"/> is.</summary>
    public int? RateWindowSeconds { get; set; }

    /// <summary>Percentages of the quota that raise a <c>quota.threshold</c> alert (default 80 and 100), sorted.</summary>
    public int[] AlertThresholds { get; set; } = [.. Alerts.QuotaThresholds.Default];

    /// <summary>When the plan was created (UTC).</summary>
    public DateTime CreatedAt { get; set; }
}

/// <summary>Whether a tenant may call the API.</summary>
public enum TenantStatus
{
    /// <summary>Calls are served.</summary>
    Active,

    /// <summary>Calls are refused with 403.</summary>
    Suspended,
}

/// <summary>An enterprise client of Tollgate.</summary>
public sealed class Tenant
{
    /// <summary>Primary key; every tenant-owned row carries it as <c>tenant_id</c>.</summary>
    public long Id { get; set; }

    /// <summary>Unique display name.</summary>
    public required string Name { get; set; }

    /// <summary>The plan the tenant is on.</summary>
    public long PlanId { get; set; }

    /// <summary>Navigation to the plan.</summary>
    public Plan? Plan { get; set; }

    /// <summary>Active or suspended.</summary>
    public TenantStatus Status { get; set; }

    /// <summary>Per-tenant quota that replaces the plan's, when set.</summary>
    public long? QuotaOverrideLimit { get; set; }

    /// <summary>Period of the quota override; set exactly when <see cref="QuotaOverrideLimit"/> is.</summary>
    public QuotaPeriod? QuotaOverridePeriod { get; set; }

    /// <summary>Per-tenant rate that replaces the plan's, when set.</summary>
    public int? RateOverrideLimit { get; set; }

    /// <summary>Window of the rate override in seconds.</summary>
    public int? RateOverrideWindowSeconds { get; set; }

    /// <summary>Alert thresholds that replace the plan's, when set.</summary>
    public int[]? AlertThresholdsOverride { get; set; }

    /// <summary>When the tenant was created (UTC).</summary>
    public DateTime CreatedAt { get; set; }
}

/// <summary>A tenant's API key. Only the SHA-256 hash and a short visible start are stored.</summary>
public sealed class ApiKey
{
    /// <summary>Primary key.</summary>
    public long Id { get; set; }

    /// <summary>Owning tenant.</summary>
    public long TenantId { get; set; }

    /// <summary>A label chosen by the admin ("production", "ci").</summary>
    public required string Name { get; set; }

    /// <summary>SHA-256 of the whole key (32 bytes).</summary>
    public required byte[] Hash { get; set; }

    /// <summary>The first characters of the key, so people can tell keys apart.</summary>
    public required string Start { get; set; }

    /// <summary>When the key was created (UTC).</summary>
    public DateTime CreatedAt { get; set; }

    /// <summary>Last time a metered request used the key (UTC), written off the request path.</summary>
    public DateTime? LastUsedAt { get; set; }

    /// <summary>The key stops working at this time (UTC), when set.</summary>
    public DateTime? ExpiresAt { get; set; }

    /// <summary>The key stopped working at this time (UTC), when set.</summary>
    public DateTime? RevokedAt { get; set; }
}

/// <summary>An end user of a tenant: what <c>GET /api/v1/users</c> returns.</summary>
public sealed class User
{
    /// <summary>Longest accepted user name (the longest e-mail address RFC 5321 allows).</summary>
    public const int MaxUsernameLength = 254;

    /// <summary>Primary key.</summary>
    public long Id { get; set; }

    /// <summary>Owning tenant.</summary>
    public long TenantId { get; set; }

    /// <summary>User name, unique within the tenant.</summary>
    public required string Username { get; set; }

    /// <summary>When the user was created (UTC).</summary>
    public DateTime CreatedAt { get; set; }
}

/// <summary>
/// One metered request, stored lean: the time as Unix milliseconds, the method and endpoint as an id in
/// <see cref="UsageEndpoint"/>, the outcome as a number. On SQLite a row and its index entry take 50.5 bytes
/// instead of 121 (see <see cref="Tollgate.Usage.UsageTables.Logs"/>); the view <c>usage_logs</c> reads it back with the readable
/// columns of the contract.
/// </summary>
public sealed class UsageLog
{
    /// <summary>Primary key.</summary>
    public long Id { get; set; }

    /// <summary>The calling tenant.</summary>
    public long TenantId { get; set; }

    /// <summary>The key the request was made with.</summary>
    public long ApiKeyId { get; set; }

    /// <summary>When the request arrived (UTC), to the millisecond: stored as Unix milliseconds in <c>time_ms</c>.</summary>
    public DateTime Timestamp { get; set; }

    /// <summary>The request's method and route template, an id in <c>usage_endpoints</c>.</summary>
    public int EndpointId { get; set; }

    /// <summary>HTTP status code of the answer.</summary>
    public int StatusCode { get; set; }

    /// <summary>Time spent in Tollgate's pipeline, in microseconds.</summary>
    public long LatencyMicros { get; set; }

    /// <summary>
    /// Of <see cref="LatencyMicros"/>, the time a gateway route waited for its upstream (0 for hosted endpoints):
    /// the rest is Tollgate's own.
    /// </summary>
    public long UpstreamLatencyMicros { get; set; }

    /// <summary>What the limits decided, stored as its number (0 admitted, 1 rate limited, 2 quota exceeded).</summary>
    public LimitOutcome Outcome { get; set; }
}

/// <summary>
/// A method and route template that metered requests were made to: the raw log stores its id, a few bytes, instead
/// of the two strings on every row. Rows are only ever added (a handful per API), never changed or deleted.
/// </summary>
public sealed class UsageEndpoint
{
    /// <summary>Primary key, stored in <c>usage_log_entries.endpoint_id</c>.</summary>
    public int Id { get; set; }

    /// <summary>HTTP method.</summary>
    public required string Method { get; set; }

    /// <summary>Route template, e.g. <c>/api/v1/users/{id}</c>.</summary>
    public required string Endpoint { get; set; }
}

/// <summary>
/// A roll-up of <see cref="UsageLog"/> rows: one row per tenant, time bucket, method, endpoint, status and outcome,
/// with exact counts and a <see cref="Tollgate.LatencySketch"/> of the latencies. Three tiers share these columns: per
/// minute (<see cref="UsageRollup"/>), per hour (<see cref="UsageRollupHour"/>) and per day
/// (<see cref="UsageRollupDay"/>, kept forever); the usage writer adds each batch to all three.
/// </summary>
public abstract class UsageRollupRow
{
    /// <summary>The tenant.</summary>
    public long TenantId { get; set; }

    /// <summary>Start of the bucket (UTC): a minute, an hour or a day.</summary>
    public DateTime BucketStart { get; set; }

    /// <summary>HTTP method.</summary>
    public required string Method { get; set; }

    /// <summary>Route template.</summary>
    public required string Endpoint { get; set; }

    /// <summary>HTTP status code.</summary>
    public int StatusCode { get; set; }

    /// <summary>What the limits decided.</summary>
    public LimitOutcome Outcome { get; set; }

    /// <summary>Number of requests.</summary>
    public long Count { get; set; }

    /// <summary>Sum of latencies in microseconds (for the mean).</summary>
    public long LatencySumMicros { get; set; }

    /// <summary>Sum of the upstream's share of those latencies (gateway routes), in microseconds.</summary>
    public long UpstreamLatencySumMicros { get; set; }

    /// <summary>The latencies' distribution, encoded (<see cref="Tollgate.LatencySketch.Encode"/>); null before the first merge.</summary>
    public byte[]? LatencySketch { get; set; }
}

/// <summary>Per-minute roll-up (table <c>usage_rollups</c>).</summary>
public sealed class UsageRollup : UsageRollupRow;

/// <summary>Per-hour roll-up (table <c>usage_rollups_hour</c>).</summary>
public sealed class UsageRollupHour : UsageRollupRow;

/// <summary>Per-day roll-up (table <c>usage_rollups_day</c>), kept forever: statements and long ranges read it.</summary>
public sealed class UsageRollupDay : UsageRollupRow;

/// <summary>
/// Admitted requests of one tenant in one quota period. The in-process limit store seeds itself from these rows
/// on start, so a restart never resets a tenant's usage and no one counts raw rows to find it.
/// </summary>
public sealed class QuotaCounter
{
    /// <summary>The tenant.</summary>
    public long TenantId { get; set; }

    /// <summary>Period kind the count is for.</summary>
    public QuotaPeriod Period { get; set; }

    /// <summary>Start of the period (UTC).</summary>
    public DateTime PeriodStart { get; set; }

    /// <summary>Admitted requests stored so far in the period.</summary>
    public long Used { get; set; }

    /// <summary>
    /// Of <see cref="Used"/>, the requests an instance admitted on its own count while Redis was unreachable and has
    /// not yet added to the shared counter. A shared counter rebuilt from this row starts at
    /// <see cref="Used"/> − <see cref="Unshared"/>, and each instance adds its own on recovery: so every admission is
    /// in the shared count exactly once, whether Redis came back empty or with its data.
    /// </summary>
    public long Unshared { get; set; }
}

/// <summary>The roles of the admin side.</summary>
public enum AdminRole
{
    /// <summary>Runs everything.</summary>
    SuperAdmin,

    /// <summary>Sees and changes one tenant.</summary>
    TenantAdmin,

    /// <summary>Reads every tenant (no tenant) or one tenant, and changes nothing.</summary>
    Viewer,
}

/// <summary>A person who logs in to the admin side.</summary>
public sealed class Admin
{
    /// <summary>Primary key.</summary>
    public long Id { get; set; }

    /// <summary>Login name, unique.</summary>
    public required string Username { get; set; }

    /// <summary>Hash made by ASP.NET Core's <c>PasswordHasher</c>.</summary>
    public required string PasswordHash { get; set; }

    /// <summary>What the admin may do.</summary>
    public AdminRole Role { get; set; }

    /// <summary>
    /// The tenant of a <see cref="AdminRole.TenantAdmin"/> or of a one-tenant <see cref="AdminRole.Viewer"/>; null for
    /// super admins and for viewers of every tenant.
    /// </summary>
    public long? TenantId { get; set; }

    /// <summary>When the admin was created (UTC).</summary>
    public DateTime CreatedAt { get; set; }

    /// <summary>The TOTP secret (RFC 6238, Base32), set up or in use; null without two-factor sign-in.</summary>
    public string? TotpSecret { get; set; }

    /// <summary>Whether login asks for a TOTP code (set once a code from the secret was confirmed).</summary>
    public bool TotpEnabled { get; set; }

    /// <summary>The time step of the last accepted code: a code of that step or earlier is refused (no replay).</summary>
    public long? TotpLastStep { get; set; }

    /// <summary>SHA-256 (hex) of each unused recovery code, separated by spaces.</summary>
    public string? RecoveryCodeHashes { get; set; }
}

/// <summary>
/// A signed-in admin's session, kept on the server so that it can be ended at once (logout, password or role change,
/// deletion) on every instance: the cookie carries only a random session key, and this row is found by its hash.
/// </summary>
public sealed class AdminSession
{
    /// <summary>SHA-256 of the session key in the cookie (32 bytes): a copy of the table signs no one in.</summary>
    public required byte[] KeyHash { get; set; }

    /// <summary>The admin the session belongs to.</summary>
    public long AdminId { get; set; }

    /// <summary>The serialized authentication ticket (claims and properties).</summary>
    public required byte[] Ticket { get; set; }

    /// <summary>When the admin logged in (UTC).</summary>
    public DateTime CreatedAt { get; set; }

    /// <summary>Last request seen with the session (UTC), written at most once a minute; drives the idle timeout.</summary>
    public DateTime LastSeenAt { get; set; }

    /// <summary>The session ends at this time (UTC) however active it is: the absolute lifetime.</summary>
    public DateTime ExpiresAt { get; set; }
}

/// <summary>One change made through the admin side: who, what, when.</summary>
public sealed class AuditEntry
{
    /// <summary>Primary key.</summary>
    public long Id { get; set; }

    /// <summary>When the change was made (UTC).</summary>
    public DateTime Timestamp { get; set; }

    /// <summary>User name of the admin who made it.</summary>
    public required string Actor { get; set; }

    /// <summary>What was done, e.g. <c>tenant.create</c>.</summary>
    public required string Action { get; set; }

    /// <summary>What it was done to, e.g. <c>tenant/3</c>.</summary>
    public required string Target { get; set; }

    /// <summary>The tenant concerned, when there is one (lets tenant admins see their own entries).</summary>
    public long? TenantId { get; set; }

    /// <summary>A short JSON description of the change; never holds a secret.</summary>
    public string? Details { get; set; }
}

/// <summary>
/// How far one usage writer has stored its batches: every batch carries its writer's id and a sequence number, and
/// the store advances this row in the same transaction as the batch's rows. A batch whose sequence is not above
/// the stored one is already in the database (a commit whose answer was lost, or a spooled batch replayed again
/// after a crash), so it is skipped: replaying the spool can never double rows, roll-ups or counters.
/// </summary>
public sealed class UsageWriterMark
{
    /// <summary>The writer: a new id per process start (see <c>UsageWriter</c>).</summary>
    public required string WriterId { get; set; }

    /// <summary>The highest sequence number stored.</summary>
    public long LastSequence { get; set; }
}

/// <summary>
/// A gateway route kept in the database (CONTRACT §7): requests matching <see cref="Path"/> are forwarded to
/// <see cref="Upstream"/> by YARP, metered like the hosted endpoints unless <see cref="Metered"/> is false.
/// </summary>
public sealed class GatewayRoute
{
    /// <summary>Longest accepted path pattern.</summary>
    public const int MaxPathLength = 200;

    /// <summary>Longest accepted upstream address.</summary>
    public const int MaxUpstreamLength = 500;

    /// <summary>Primary key.</summary>
    public long Id { get; set; }

    /// <summary>ASP.NET Core route pattern, e.g. <c>/orders/{**rest}</c>; unique.</summary>
    public required string Path { get; set; }

    /// <summary>Absolute http(s) address of the upstream, e.g. <c>http://127.0.0.1:8080/</c>.</summary>
    public required string Upstream { get; set; }

    /// <summary>True: an API key is needed and the request is limited, counted and logged. False: forwarded as is.</summary>
    public bool Metered { get; set; } = true;

    /// <summary>Units an admitted request counts against the tenant's quota and rate.</summary>
    public int Cost { get; set; } = 1;

    /// <summary>How long the upstream may stay silent before the request is answered 504, in seconds.</summary>
    public int TimeoutSeconds { get; set; } = 30;

    /// <summary>When the route was created (UTC).</summary>
    public DateTime CreatedAt { get; set; }
}
