using Tollgate.Data;

namespace Tollgate.Webhooks;

/// <summary>A webhook endpoint as listed: never its secret.</summary>
/// <param name="Id">Endpoint id.</param>
/// <param name="Url">Where events are POSTed.</param>
/// <param name="TenantId">The tenant whose events are sent; null for every tenant's.</param>
/// <param name="Events">The event types sent.</param>
/// <param name="Enabled">False once the receiver answered 410 (or an admin turned it off).</param>
/// <param name="DisabledReason">Why it is disabled.</param>
/// <param name="CreatedAt">Created (UTC).</param>
public sealed record WebhookDto(long Id, string Url, long? TenantId, IReadOnlyList<string> Events, bool Enabled, string? DisabledReason, DateTime CreatedAt)
{
    /// <summary>Maps an entity.</summary>
    public static WebhookDto From(WebhookEndpoint e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return new(e.Id, e.Url, e.TenantId, EventsOf(e.Events), e.Enabled, e.DisabledReason, e.CreatedAt);
    }

    /// <summary>The stored event list as an array.</summary>
    public static string[] EventsOf(string stored) => stored.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
}

/// <summary>Answer of <c>POST /api/admin/webhooks</c>: the endpoint and its secret, shown this once.</summary>
/// <param name="Id">Endpoint id.</param>
/// <param name="Url">Where events are POSTed.</param>
/// <param name="TenantId">The tenant, or null for every tenant.</param>
/// <param name="Events">The event types sent.</param>
/// <param name="Secret">The signing secret, <c>whsec_…</c>.</param>
/// <param name="Enabled">Whether events are sent.</param>
/// <param name="CreatedAt">Created (UTC).</param>
public sealed record CreatedWebhookDto(long Id, string Url, long? TenantId, IReadOnlyList<string> Events, string Secret, bool Enabled, DateTime CreatedAt);

/// <summary>Body of <c>POST /api/admin/webhooks</c>.</summary>
/// <param name="Url">Absolute http(s) URL.</param>
/// <param name="TenantId">The tenant whose events are sent; null for every tenant (super admins). A tenant admin's own tenant when absent.</param>
/// <param name="Events">Event types; default <c>["quota.threshold"]</c>.</param>
public sealed record CreateWebhookRequest(string? Url, long? TenantId, IReadOnlyList<string>? Events);

/// <summary>Body of <c>PATCH /api/admin/webhooks/{id}</c>: members present are changed.</summary>
/// <param name="Url">A new URL.</param>
/// <param name="Events">New event types.</param>
/// <param name="Enabled">Turns sending on (e.g. after a 410) or off.</param>
public sealed record PatchWebhookRequest(string? Url, IReadOnlyList<string>? Events, bool? Enabled);

/// <summary>One delivery attempt, or a message not yet attempted.</summary>
/// <param name="EventId">The <c>webhook-id</c>.</param>
/// <param name="Type">The event type.</param>
/// <param name="Status">The message's state: Pending, Delivered or Failed.</param>
/// <param name="StatusCode">What the receiver answered; null without an answer.</param>
/// <param name="Error">What went wrong.</param>
/// <param name="Time">When the attempt was made (UTC); null when none was yet.</param>
/// <param name="NextAttempt">When the next attempt is due (UTC).</param>
public sealed record WebhookDeliveryDto(
    string EventId, string Type, WebhookMessageStatus Status, int? StatusCode, string? Error, DateTime? Time, DateTime? NextAttempt);

/// <summary>Answer of <c>POST /api/admin/webhooks/{id}/test</c>.</summary>
/// <param name="EventId">The <c>webhook-id</c> of the queued test event.</param>
public sealed record WebhookTestDto(string EventId);

/// <summary>A tenant that crossed an alert threshold in its current quota period.</summary>
/// <param name="TenantId">Tenant id.</param>
/// <param name="TenantName">Tenant name.</param>
/// <param name="Threshold">The highest percentage crossed this period.</param>
/// <param name="Used">Quota count when it was crossed.</param>
/// <param name="Limit">The quota.</param>
/// <param name="CrossedAt">When (UTC).</param>
/// <param name="ResetAt">When the period ends and the thresholds re-arm (UTC).</param>
public sealed record QuotaAlertDto(long TenantId, string TenantName, int Threshold, long Used, long Limit, DateTime CrossedAt, DateTime ResetAt);

/// <summary>Body of <c>PUT /api/admin/tenants/{id}/alert-thresholds</c>.</summary>
/// <param name="AlertThresholds">Percentages replacing the plan's; null to use the plan's again.</param>
public sealed record TenantAlertThresholdsRequest(IReadOnlyList<int>? AlertThresholds);

/// <summary>A tenant's alert thresholds.</summary>
/// <param name="TenantId">Tenant id.</param>
/// <param name="AlertThresholds">The thresholds in force.</param>
/// <param name="Override">True when they are the tenant's own, not its plan's.</param>
public sealed record TenantAlertThresholdsDto(long TenantId, IReadOnlyList<int> AlertThresholds, bool Override);
