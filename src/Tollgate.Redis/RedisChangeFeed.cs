using System.Globalization;
using StackExchange.Redis;
using Tollgate.Changes;
using Tollgate.Keys;

namespace Tollgate.Redis;

/// <summary>
/// Admin changes applied here at once and published on a Redis channel, so every other instance applies them
/// within milliseconds (not at a cache expiry). Messages are <c>instance|kind|argument</c>; an instance ignores
/// its own.
/// </summary>
internal sealed partial class RedisChangeFeed(
    IConnectionMultiplexer redis,
    LocalChangeFeed local,
    ILogger<RedisChangeFeed> logger) : IChangeFeed, IHostedService, IDisposable
{
    /// <summary>The channel every instance listens on.</summary>
    public static readonly RedisChannel Channel = RedisChannel.Literal("tollgate:changes");

    private readonly string _instance = Guid.NewGuid().ToString("N");

    public async Task TenantsChangedAsync(CancellationToken cancellationToken = default)
    {
        await local.TenantsChangedAsync(cancellationToken);
        await PublishAsync("tenants", "");
    }

    public async Task TenantChangedAsync(long tenantId, CancellationToken cancellationToken = default)
    {
        await local.TenantChangedAsync(tenantId, cancellationToken);
        await PublishAsync("tenant", tenantId.ToString(CultureInfo.InvariantCulture));
    }

    public async Task PlanChangedAsync(long planId, CancellationToken cancellationToken = default)
    {
        await local.PlanChangedAsync(planId, cancellationToken);
        await PublishAsync("plan", planId.ToString(CultureInfo.InvariantCulture));
    }

    public async Task KeyRevokedAsync(KeyHash hash, CancellationToken cancellationToken = default)
    {
        await local.KeyRevokedAsync(hash, cancellationToken);
        await PublishAsync("key", Convert.ToBase64String(hash.ToArray()));
    }

    public async Task KeyCreatedAsync(KeyHash hash, CancellationToken cancellationToken = default)
    {
        await local.KeyCreatedAsync(hash, cancellationToken);
        await PublishAsync("key-created", Convert.ToBase64String(hash.ToArray()));
    }

    public async Task TenantRemovedAsync(long tenantId, CancellationToken cancellationToken = default)
    {
        await local.TenantRemovedAsync(tenantId, cancellationToken);
        await PublishAsync("tenant-removed", tenantId.ToString(CultureInfo.InvariantCulture));
    }

    public async Task UsageRewrittenAsync(long tenantId, CancellationToken cancellationToken = default)
    {
        await local.UsageRewrittenAsync(tenantId, cancellationToken);
        await PublishAsync("usage", tenantId.ToString(CultureInfo.InvariantCulture));
    }

    public async Task RoutesChangedAsync(CancellationToken cancellationToken = default)
    {
        await local.RoutesChangedAsync(cancellationToken);
        await PublishAsync("routes", "");
    }

    /// <summary>The longest pause between two attempts to subscribe.</summary>
    internal static readonly TimeSpan LongestRetryDelay = TimeSpan.FromSeconds(5);

    private readonly CancellationTokenSource _stopping = new();
    private Task _subscribing = Task.CompletedTask;

    /// <summary>
    /// Subscribes before the server takes requests, so that a change published by another instance once this one
    /// serves is never missed. When Redis does not answer in time (down, or a SUBSCRIBE that outlasted the client's
    /// timeout on a busy machine), the server starts anyway and keeps trying in the background: a Redis outage must
    /// not keep an instance from serving, as the Open/Closed policy lets limits run without it. Until then, changes made
    /// on other instances reach this one through the periodic resync (<c>Tollgate:Keys:ResyncInterval</c>).
    /// </summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!await TrySubscribeAsync())
        {
            _subscribing = SubscribeUntilDoneAsync(_stopping.Token);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        await _subscribing;
        try
        {
            await redis.GetSubscriber().UnsubscribeAsync(Channel);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            // Redis is gone: so is the subscription.
        }
    }

    private async Task<bool> TrySubscribeAsync()
    {
        try
        {
            var queue = await redis.GetSubscriber().SubscribeAsync(Channel);
            queue.OnMessage(message => ApplyAsync(message.Message.ToString()));
            return true;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            // StackExchange.Redis registers the queue before it sends SUBSCRIBE, and keeps it when the answer does not
            // come: unread, it would hold every message. Only this feed listens on the channel, so drop all of it.
            LogSubscribeFailed(logger, ex);
            try
            {
                await redis.GetSubscriber().UnsubscribeAsync(Channel, null, CommandFlags.FireAndForget);
            }
            catch (Exception unsubscribe) when (unsubscribe is RedisException or TimeoutException)
            {
                // Redis is unreachable: the next attempt subscribes afresh.
            }

            return false;
        }
    }

    private async Task SubscribeUntilDoneAsync(CancellationToken stopping)
    {
        var delay = TimeSpan.FromMilliseconds(250);
        while (!stopping.IsCancellationRequested)
        {
            await Task.Delay(delay, stopping).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (stopping.IsCancellationRequested || await TrySubscribeAsync())
            {
                return;
            }

            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, LongestRetryDelay.Ticks));
        }
    }

    public void Dispose() => _stopping.Dispose();

    private async Task PublishAsync(string kind, string argument)
    {
        try
        {
            await redis.GetSubscriber().PublishAsync(Channel, $"{_instance}|{kind}|{argument}");
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            // The change is stored and applied here; other instances pick it up when their caches expire or restart.
            LogPublishFailed(logger, ex, kind);
        }
    }

    private async Task ApplyAsync(string message)
    {
        var parts = message.Split('|', 3);
        if (parts.Length != 3 || parts[0] == _instance)
        {
            return;
        }

        try
        {
            switch (parts[1])
            {
                case "tenants":
                    await local.TenantsChangedAsync();
                    break;
                case "tenant":
                    await local.TenantChangedAsync(long.Parse(parts[2], CultureInfo.InvariantCulture));
                    break;
                case "plan":
                    await local.PlanChangedAsync(long.Parse(parts[2], CultureInfo.InvariantCulture));
                    break;
                case "key":
                    await local.KeyRevokedAsync(KeyHash.FromBytes(Convert.FromBase64String(parts[2])));
                    break;
                case "key-created":
                    await local.KeyCreatedAsync(KeyHash.FromBytes(Convert.FromBase64String(parts[2])));
                    break;
                case "tenant-removed":
                    await local.TenantRemovedAsync(long.Parse(parts[2], CultureInfo.InvariantCulture));
                    break;
                case "routes":
                    await local.RoutesChangedAsync();
                    break;
                case "usage":
                    await local.UsageRewrittenAsync(long.Parse(parts[2], CultureInfo.InvariantCulture));
                    break;
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogApplyFailed(logger, ex, parts[1]);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not subscribe to the other instances' changes; trying again (until then they arrive through the periodic resync)")]
    private static partial void LogSubscribeFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not publish a '{Kind}' change to the other instances")]
    private static partial void LogPublishFailed(ILogger logger, Exception exception, string kind);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not apply a '{Kind}' change from another instance")]
    private static partial void LogApplyFailed(ILogger logger, Exception exception, string kind);
}
