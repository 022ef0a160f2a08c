using System.Security.Cryptography;
using System.Text.Json;
using Tollgate.Data;

namespace Tollgate.Webhooks;

/// <summary>The event types and bodies of CONTRACT §9, serialized once when a message is made.</summary>
public static class WebhookEvents
{
    /// <summary>A tenant's usage crossed one of its alert thresholds.</summary>
    public const string QuotaThreshold = "quota.threshold";

    /// <summary>Sent by <c>POST /api/admin/webhooks/{id}/test</c>.</summary>
    public const string Test = "webhook.test";

    /// <summary>The event types an endpoint may subscribe to.</summary>
    public static IReadOnlyList<string> Subscribable { get; } = [QuotaThreshold];

    /// <summary>A new <c>webhook-id</c>: <c>msg_</c> and 24 random characters.</summary>
    public static string NewId() => "msg_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));

    /// <summary>The body of a <c>quota.threshold</c> event.</summary>
    public static string QuotaThresholdBody(QuotaAlert alert, string tenantName, string plan)
    {
        ArgumentNullException.ThrowIfNull(alert);
        var data = new QuotaThresholdData(
            alert.TenantId, tenantName, plan, alert.Threshold, alert.Used, alert.QuotaLimit, alert.Period.ToString(),
            alert.PeriodStart, QuotaPeriods.NextStart(alert.Period, alert.PeriodStart));
        return JsonSerializer.Serialize(new WebhookEvent<QuotaThresholdData>(QuotaThreshold, alert.CrossedAt, data), JsonSerializerOptions.Web);
    }

    /// <summary>The body of a <c>webhook.test</c> event.</summary>
    public static string TestBody(long endpointId, DateTime now) =>
        JsonSerializer.Serialize(
            new WebhookEvent<TestData>(Test, now, new TestData(endpointId, "A test event sent from Tollgate's admin side.")),
            JsonSerializerOptions.Web);

    /// <summary>The envelope: <c>{"type","timestamp","data"}</c>.</summary>
    /// <param name="Type">Event type.</param>
    /// <param name="Timestamp">When it happened (UTC).</param>
    /// <param name="Data">The event's data.</param>
    /// <typeparam name="T">The data's shape.</typeparam>
    public sealed record WebhookEvent<T>(string Type, DateTime Timestamp, T Data);

    /// <summary>The data of a <c>quota.threshold</c> event.</summary>
    /// <param name="TenantId">Tenant id.</param>
    /// <param name="TenantName">Tenant name.</param>
    /// <param name="Plan">Plan name.</param>
    /// <param name="Threshold">Percentage crossed.</param>
    /// <param name="Used">Quota count after the crossing request.</param>
    /// <param name="Limit">The quota.</param>
    /// <param name="Period">Minute, Hour, Day or Month.</param>
    /// <param name="PeriodStart">Start of the period (UTC).</param>
    /// <param name="ResetAt">When the next period starts (UTC).</param>
    public sealed record QuotaThresholdData(
        long TenantId, string TenantName, string Plan, int Threshold, long Used, long Limit, string Period, DateTime PeriodStart, DateTime ResetAt);

    /// <summary>The data of a <c>webhook.test</c> event.</summary>
    /// <param name="EndpointId">The endpoint tested.</param>
    /// <param name="Message">A human sentence.</param>
    public sealed record TestData(long EndpointId, string Message);
}
