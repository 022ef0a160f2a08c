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
    ILogger<RedisChangeFeed> logger) : IChangeFeed, IHostedService
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

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var queue = await redis.GetSubscriber().SubscribeAsync(Channel);
        queue.OnMessage(message => ApplyAsync(message.Message.ToString()));
    }

    public Task StopAsync(CancellationToken cancellationToken) => redis.GetSubscriber().UnsubscribeAsync(Channel);

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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not publish a '{Kind}' change to the other instances")]
    private static partial void LogPublishFailed(ILogger logger, Exception exception, string kind);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not apply a '{Kind}' change from another instance")]
    private static partial void LogApplyFailed(ILogger logger, Exception exception, string kind);
}
