using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Tollgate.Admin;
using Tollgate.Data;
using Tollgate.Keys;

namespace Tollgate.Webhooks;

/// <summary>
/// The webhooks' data: endpoints as an admin may see them, their deliveries, test events, and the alerts of the current
/// period. The handlers of <see cref="WebhooksApi"/> shape HTTP; the queries are here.
/// </summary>
internal sealed class WebhookRegistry(TollgateDbContext db, TimeProvider time, TenantDirectory tenants)
{
    /// <summary>The endpoints the admin may see: all for those who see every tenant, else its own tenant's (not the global ones).</summary>
    public async Task<List<WebhookEndpoint>> ListAsync(AdminScope scope, CancellationToken ct) =>
        await Visible(scope).OrderBy(e => e.Id).ToListAsync(ct);

    /// <summary>One endpoint, or null when it does not exist or the admin may not see it.</summary>
    public Task<WebhookEndpoint?> FindAsync(AdminScope scope, long id, CancellationToken ct) =>
        Visible(scope).FirstOrDefaultAsync(e => e.Id == id, ct);

    public Task<bool> TenantExistsAsync(long tenantId, CancellationToken ct) => db.Tenants.AnyAsync(t => t.Id == tenantId, ct);

    /// <summary>Stores a new endpoint with a new secret, and its audit entry, in one transaction.</summary>
    public async Task<WebhookEndpoint> CreateAsync(AdminScope scope, string url, long? tenantId, IReadOnlyList<string> events, CancellationToken ct)
    {
        var endpoint = new WebhookEndpoint
        {
            Url = url,
            TenantId = tenantId,
            Events = string.Join(",", events),
            // 32 random bytes: the size of the HMAC-SHA256 key, as Standard Webhooks' own libraries make them.
            Secret = "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
            CreatedAt = time.GetUtcNow().UtcDateTime,
        };
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        db.WebhookEndpoints.Add(endpoint);
        await db.SaveChangesAsync(ct);
        AuditTrail.Add(db, time, scope, "webhook.create", $"webhook/{endpoint.Id}", tenantId, new { url, tenantId, events });
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        return endpoint;
    }

    /// <summary>Saves the changes made to a tracked endpoint, with their audit entry.</summary>
    public async Task UpdateAsync(AdminScope scope, WebhookEndpoint endpoint, CancellationToken ct)
    {
        AuditTrail.Add(db, time, scope, "webhook.update", $"webhook/{endpoint.Id}", endpoint.TenantId,
            new { endpoint.Url, endpoint.TenantId, events = WebhookDto.EventsOf(endpoint.Events), endpoint.Enabled });
        await db.SaveChangesAsync(ct);
    }

    /// <summary>Deletes an endpoint (its messages and attempts go with it), with its audit entry.</summary>
    public async Task DeleteAsync(AdminScope scope, WebhookEndpoint endpoint, CancellationToken ct)
    {
        db.WebhookEndpoints.Remove(endpoint);
        AuditTrail.Add(db, time, scope, "webhook.delete", $"webhook/{endpoint.Id}", endpoint.TenantId, new { endpoint.Url });
        await db.SaveChangesAsync(ct);
    }

    /// <summary>Queues a <c>webhook.test</c> message for the endpoint, due now.</summary>
    public async Task<WebhookMessage> QueueTestAsync(AdminScope scope, WebhookEndpoint endpoint, CancellationToken ct)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var message = new WebhookMessage
        {
            EndpointId = endpoint.Id,
            WebhookId = WebhookEvents.NewId(),
            EventType = WebhookEvents.Test,
            Payload = WebhookEvents.TestBody(endpoint.Id, now),
            CreatedAt = now,
            Status = WebhookMessageStatus.Pending,
            NextAttemptAt = now,
        };
        db.WebhookMessages.Add(message);
        AuditTrail.Add(db, time, scope, "webhook.test", $"webhook/{endpoint.Id}", endpoint.TenantId, new { eventId = message.WebhookId });
        await db.SaveChangesAsync(ct);
        return message;
    }

    /// <summary>The endpoint's latest attempts, newest first, and its messages not attempted yet.</summary>
    public async Task<List<WebhookDeliveryDto>> DeliveriesAsync(long endpointId, int limit, CancellationToken ct)
    {
        var attempts = await (
            from a in db.WebhookAttempts
            join m in db.WebhookMessages on a.MessageId equals m.Id
            where m.EndpointId == endpointId
            orderby a.Id descending
            select new WebhookDeliveryDto(m.WebhookId, m.EventType, m.Status, a.StatusCode, a.Error, a.AttemptedAt, a.NextAttemptAt))
            .Take(limit).ToListAsync(ct);
        var waiting = await db.WebhookMessages
            .Where(m => m.EndpointId == endpointId && m.Attempts == 0 && m.Status == WebhookMessageStatus.Pending)
            .OrderByDescending(m => m.Id).Take(limit)
            .Select(m => new WebhookDeliveryDto(m.WebhookId, m.EventType, m.Status, null, null, null, m.NextAttemptAt))
            .ToListAsync(ct);
        return [.. waiting, .. attempts];
    }

    /// <summary>The tenants the admin may see that crossed a threshold in their current quota period, highest threshold each.</summary>
    public async Task<List<QuotaAlertDto>> CurrentAlertsAsync(AdminScope scope, CancellationToken ct)
    {
        var now = time.GetUtcNow().UtcDateTime;
        // No period is longer than a month: older rows cannot be this period's.
        var since = now.AddDays(-32);
        var query = db.QuotaAlerts.AsNoTracking().Where(a => a.PeriodStart >= since);
        if (!scope.SeesAllTenants)
        {
            query = query.Where(a => a.TenantId == scope.TenantId);
        }

        var rows = await query.ToListAsync(ct);
        var current = new List<QuotaAlertDto>();
        foreach (var group in rows.GroupBy(a => a.TenantId))
        {
            if (!tenants.TryGet(group.Key, out var tenant))
            {
                continue;
            }

            var period = tenant.Policy.QuotaPeriod;
            var start = QuotaPeriods.StartOf(period, now);
            if (group.Where(a => a.Period == period && a.PeriodStart == start).MaxBy(a => a.Threshold) is { } top)
            {
                current.Add(new QuotaAlertDto(tenant.Id, tenant.Name, top.Threshold, top.Used, top.QuotaLimit, top.CrossedAt,
                    QuotaPeriods.NextStart(period, start)));
            }
        }

        return [.. current.OrderByDescending(a => a.Threshold).ThenBy(a => a.TenantName, StringComparer.OrdinalIgnoreCase)];
    }

    /// <summary>Sets or clears a tenant's own alert thresholds; false when the tenant does not exist.</summary>
    public async Task<Tenant?> SetTenantThresholdsAsync(AdminScope scope, long tenantId, int[]? thresholds, CancellationToken ct)
    {
        var tenant = await db.Tenants.Include(t => t.Plan).FirstOrDefaultAsync(t => t.Id == tenantId, ct);
        if (tenant is null)
        {
            return null;
        }

        tenant.AlertThresholdsOverride = thresholds;
        AuditTrail.Add(db, time, scope, "tenant.alert-thresholds", $"tenant/{tenantId}", tenantId, new { alertThresholds = thresholds });
        await db.SaveChangesAsync(ct);
        return tenant;
    }

    private IQueryable<WebhookEndpoint> Visible(AdminScope scope) =>
        scope.SeesAllTenants ? db.WebhookEndpoints : db.WebhookEndpoints.Where(e => e.TenantId != null && e.TenantId == scope.TenantId);
}
