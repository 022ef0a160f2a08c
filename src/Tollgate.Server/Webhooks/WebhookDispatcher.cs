using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Tollgate.Data;

namespace Tollgate.Webhooks;

/// <summary>
/// Delivers webhooks in the background, on every instance: turns new <c>quota_alerts</c> rows (the outbox) into one
/// message per subscribed endpoint, then sends due messages. Several instances on one database share the work without
/// sending anything twice: an alert is fanned out by the one instance whose conditional update marks it, and a message
/// is sent by the one that claims its lease (an <c>UPDATE … WHERE lease expired</c> that only one can win).
/// </summary>
internal sealed partial class WebhookDispatcher(
    IServiceScopeFactory scopes,
    WebhookSender sender,
    WebhookMetrics metrics,
    IOptions<WebhookOptions> options,
    TimeProvider time,
    ILogger<WebhookDispatcher> logger) : BackgroundService
{
    private const int BatchSize = 50;
    private const int Parallelism = 4;

    private readonly string _instance = Guid.NewGuid().ToString("N");
    private readonly WebhookOptions _options = options.Value;
    private readonly SemaphoreSlim _wake = new(0, 1);

    /// <summary>Makes the next round start now (a test event was queued).</summary>
    public void Wake()
    {
        try
        {
            _wake.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already woken.
        }
    }

    public override void Dispose()
    {
        _wake.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await FanOutAsync(stoppingToken);
                await DeliverDueAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // The database is away, most likely: the rows wait there, try again next round.
                LogRoundFailed(logger, ex);
            }

            try
            {
                // A pause between rounds, not a reading of the clock: real time, so that a test on a frozen
                // TimeProvider still polls (due times are compared with the TimeProvider's now).
                await _wake.WaitAsync(_options.PollInterval, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>One message per enabled, subscribed endpoint for each alert not yet fanned out.</summary>
    private async Task FanOutAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TollgateDbContext>();
        var alerts = await db.QuotaAlerts.AsNoTracking().Where(a => a.FannedOutAt == null).OrderBy(a => a.Id).Take(BatchSize).ToListAsync(ct);
        if (alerts.Count == 0)
        {
            return;
        }

        var endpoints = await db.WebhookEndpoints.AsNoTracking().Where(e => e.Enabled).ToListAsync(ct);
        var tenantIds = alerts.Select(a => a.TenantId).Distinct().ToList();
        var tenants = await db.Tenants.AsNoTracking().Where(t => tenantIds.Contains(t.Id))
            .Select(t => new { t.Id, t.Name, Plan = t.Plan!.Name }).ToDictionaryAsync(t => t.Id, ct);
        foreach (var alert in alerts)
        {
            var now = time.GetUtcNow().UtcDateTime;
            await using var tx = await db.Database.BeginTransactionAsync(ct);
            // The claim: only one instance's update finds the row still unmarked.
            var claimed = await db.QuotaAlerts.Where(a => a.Id == alert.Id && a.FannedOutAt == null)
                .ExecuteUpdateAsync(s => s.SetProperty(a => a.FannedOutAt, now), ct);
            if (claimed == 0)
            {
                continue;
            }

            // A tenant deleted since has nobody to tell.
            if (tenants.TryGetValue(alert.TenantId, out var tenant))
            {
                var body = WebhookEvents.QuotaThresholdBody(alert, tenant.Name, tenant.Plan);
                foreach (var endpoint in endpoints.Where(e => (e.TenantId is null || e.TenantId == alert.TenantId) && Subscribes(e, WebhookEvents.QuotaThreshold)))
                {
                    db.WebhookMessages.Add(new WebhookMessage
                    {
                        EndpointId = endpoint.Id,
                        WebhookId = WebhookEvents.NewId(),
                        EventType = WebhookEvents.QuotaThreshold,
                        Payload = body,
                        AlertId = alert.Id,
                        CreatedAt = now,
                        Status = WebhookMessageStatus.Pending,
                        NextAttemptAt = now,
                    });
                }

                await db.SaveChangesAsync(ct);
            }

            await tx.CommitAsync(ct);
            db.ChangeTracker.Clear();
        }
    }

    private static bool Subscribes(WebhookEndpoint endpoint, string type) =>
        endpoint.Events.Split(',', StringSplitOptions.TrimEntries).Contains(type, StringComparer.Ordinal);

    /// <summary>Claims the due messages that no live lease holds, and sends them.</summary>
    private async Task DeliverDueAsync(CancellationToken ct)
    {
        List<long> claimed = [];
        await using (var scope = scopes.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<TollgateDbContext>();
            var now = time.GetUtcNow().UtcDateTime;
            var due = await db.WebhookMessages.AsNoTracking()
                .Where(m => m.Status == WebhookMessageStatus.Pending && m.NextAttemptAt <= now && (m.LeaseUntil == null || m.LeaseUntil < now))
                .OrderBy(m => m.NextAttemptAt).Take(BatchSize).Select(m => m.Id).ToListAsync(ct);
            var until = now + _options.LeaseDuration;
            foreach (var id in due)
            {
                var won = await db.WebhookMessages
                    .Where(m => m.Id == id && m.Status == WebhookMessageStatus.Pending && (m.LeaseUntil == null || m.LeaseUntil < now))
                    .ExecuteUpdateAsync(s => s.SetProperty(m => m.LeaseOwner, _instance).SetProperty(m => m.LeaseUntil, until), ct);
                if (won == 1)
                {
                    claimed.Add(id);
                }
            }
        }

        await Parallel.ForEachAsync(claimed, new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = ct }, DeliverAsync);
    }

    private async ValueTask DeliverAsync(long messageId, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TollgateDbContext>();
        var message = await db.WebhookMessages.AsNoTracking().FirstOrDefaultAsync(m => m.Id == messageId, ct);
        if (message is null)
        {
            return; // its endpoint was deleted meanwhile
        }

        var endpoint = await db.WebhookEndpoints.AsNoTracking().FirstOrDefaultAsync(e => e.Id == message.EndpointId, ct);
        SendResult result;
        if (endpoint is not { Enabled: true })
        {
            result = new SendResult(null, "The endpoint is disabled.");
        }
        else
        {
            try
            {
                result = await sender.SendAsync(endpoint.Url, endpoint.Secret, message.WebhookId, message.Payload, ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                // Stopping mid-attempt: not an attempt. The lease is given back so that the next start (or another
                // instance) sends it at once, with the same webhook-id.
                await ReleaseAsync(messageId);
                throw;
            }
        }

        await RecordAsync(db, message, endpoint, result, ct);
    }

    private async Task RecordAsync(TollgateDbContext db, WebhookMessage message, WebhookEndpoint? endpoint, SendResult result, CancellationToken ct)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var attempts = message.Attempts + 1;
        var gone = result.StatusCode == StatusCodes.Status410Gone;
        var retries = _options.Retries;
        var disabled = endpoint is not { Enabled: true };
        var (status, next, outcome) = result.Succeeded ? (WebhookMessageStatus.Delivered, (DateTime?)null, "delivered")
            : gone ? (WebhookMessageStatus.Failed, null, "gone")
            : disabled || attempts > retries.Count ? (WebhookMessageStatus.Failed, null, "failed")
            : (WebhookMessageStatus.Pending, now + retries[attempts - 1], "retrying");

        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var updated = await db.WebhookMessages.Where(m => m.Id == message.Id && m.LeaseOwner == _instance && m.Status == WebhookMessageStatus.Pending)
            .ExecuteUpdateAsync(s => s
                .SetProperty(m => m.Status, status)
                .SetProperty(m => m.Attempts, attempts)
                .SetProperty(m => m.NextAttemptAt, next)
                .SetProperty(m => m.LeaseOwner, (string?)null)
                .SetProperty(m => m.LeaseUntil, (DateTime?)null), ct);
        if (updated == 0)
        {
            // The lease ran out and another instance took the message: its record is the one that counts.
            return;
        }

        db.WebhookAttempts.Add(new WebhookAttempt
        {
            MessageId = message.Id,
            AttemptedAt = now,
            StatusCode = result.StatusCode,
            Error = result.Error is { Length: > WebhookAttempt.MaxErrorLength } text ? text[..WebhookAttempt.MaxErrorLength] : result.Error,
            NextAttemptAt = next,
        });
        await db.SaveChangesAsync(ct);
        if (gone && endpoint is not null)
        {
            await db.WebhookEndpoints.Where(e => e.Id == endpoint.Id).ExecuteUpdateAsync(s => s
                .SetProperty(e => e.Enabled, false)
                .SetProperty(e => e.DisabledReason, $"The receiver answered 410 Gone at {now:yyyy-MM-ddTHH:mm:ssZ}."), ct);
            LogGone(logger, endpoint.Id);
        }

        await tx.CommitAsync(ct);
        metrics.Attempted(outcome);
    }

    private async Task ReleaseAsync(long messageId)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<TollgateDbContext>();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await db.WebhookMessages.Where(m => m.Id == messageId && m.LeaseOwner == _instance)
                .ExecuteUpdateAsync(s => s.SetProperty(m => m.LeaseOwner, (string?)null).SetProperty(m => m.LeaseUntil, (DateTime?)null), cts.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or DbUpdateException or InvalidOperationException or System.Data.Common.DbException)
        {
            // The lease then simply runs out.
            LogReleaseFailed(logger, ex, messageId);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook dispatch round failed; retrying next round")]
    private static partial void LogRoundFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook endpoint {EndpointId} answered 410 Gone and is disabled")]
    private static partial void LogGone(ILogger logger, long endpointId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Could not give back the lease of webhook message {MessageId}; it runs out instead")]
    private static partial void LogReleaseFailed(ILogger logger, Exception exception, long messageId);
}
