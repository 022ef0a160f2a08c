using Microsoft.Extensions.Options;

namespace Tollgate.Keys;

/// <summary>
/// Every <see cref="ApiKeyOptions.ResyncInterval"/>, re-reads the tenants, plans and keys the audit log shows changed
/// since the last pass (the whole tenant directory every 30 passes) and the state of the keys used since then: what
/// another instance changed (a revocation, a rotation, a suspension, a plan change) applies here within that time even
/// without a change feed between the instances. With Redis the feed is faster; this is
/// its safety net.
/// </summary>
internal sealed partial class KeyResync(
    IApiKeyStore keys, KeyIndex index, TenantDirectory directory, TimeProvider time, IOptions<ApiKeyOptions> options, ILogger<KeyResync> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = options.Value.ResyncInterval;
        if (interval <= TimeSpan.Zero || keys is not CachedApiKeyStore cache)
        {
            return;
        }

        using var timer = new PeriodicTimer(interval, time);
        var since = time.GetUtcNow().UtcDateTime;
        var passes = 0;
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                var started = time.GetUtcNow().UtcDateTime;
                try
                {
                    // What the audit log shows changed, each pass; everything, every FullReloadEvery passes, for
                    // tenants written by other means (bulk SQL, a restore).
                    if (++passes % FullReloadEvery == 0)
                    {
                        await directory.ReloadAsync(stoppingToken);
                    }
                    else
                    {
                        await directory.ResyncChangedAsync(since, stoppingToken);
                    }

                    // Revocations and rotations anywhere, by the audit log (every key change writes its entry in the
                    // same transaction), then the keys this instance used, for rows changed by other means.
                    var revised = await index.ResyncChangedAsync(since, stoppingToken);
                    foreach (var hash in revised)
                    {
                        keys.Evict(hash);
                    }

                    var changed = revised.Count + await cache.RevalidateAsync(since, stoppingToken);
                    if (changed > 0)
                    {
                        LogKeysChanged(logger, changed);
                    }

                    // Keys used during this pass are looked at again in the next one.
                    since = started;
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // The database is away: memory keeps what it knows, and the next tick tries again from the same point.
                    LogResyncFailed(logger, ex);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    // A whole reload of the tenant directory every this many passes (5 minutes at the default interval).
    private const int FullReloadEvery = 30;

    [LoggerMessage(Level = LogLevel.Information, Message = "{Count} cached API keys changed in the database since the last resync")]
    private static partial void LogKeysChanged(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not resync tenants and API keys with the database")]
    private static partial void LogResyncFailed(ILogger logger, Exception exception);
}
