using Tollgate.Keys;
using Tollgate.Limits;
using Tollgate.Usage;

namespace Tollgate.Changes;

/// <summary>
/// How admin changes reach the request path of every instance: the admin side says what changed, and each
/// instance drops or reloads what it holds in memory. In process the change applies at once; with Redis it is
/// also published to the other instances.
/// </summary>
public interface IChangeFeed
{
    /// <summary>Many tenants changed at once (demo data, bulk inserts): reload the whole tenant directory.</summary>
    Task TenantsChangedAsync(CancellationToken cancellationToken = default);

    /// <summary>A tenant was created or changed (plan, overrides, status, name): read that tenant again.</summary>
    Task TenantChangedAsync(long tenantId, CancellationToken cancellationToken = default);

    /// <summary>A plan changed: read its tenants again.</summary>
    Task PlanChangedAsync(long planId, CancellationToken cancellationToken = default);

    /// <summary>A key was revoked or rotated: read its state again, so its next use sees the change.</summary>
    Task KeyRevokedAsync(KeyHash hash, CancellationToken cancellationToken = default);

    /// <summary>A key was made: read it into the key index, so its first use is decided from memory.</summary>
    Task KeyCreatedAsync(KeyHash hash, CancellationToken cancellationToken = default);

    /// <summary>A tenant was deleted: take it out of the directory and forget its keys, counts and live figures.</summary>
    Task TenantRemovedAsync(long tenantId, CancellationToken cancellationToken = default);

    /// <summary>A tenant's stored usage changed outside the request path (demo history): reload its counts.</summary>
    Task UsageRewrittenAsync(long tenantId, CancellationToken cancellationToken = default);

    /// <summary>A gateway route was added, changed or removed: reload the routes YARP serves.</summary>
    Task RoutesChangedAsync(CancellationToken cancellationToken = default);
}

/// <summary>Applies changes to this instance's memory.</summary>
public sealed class LocalChangeFeed(
    TenantDirectory directory,
    IApiKeyStore keys,
    ILimitStore limits,
    LiveUsageTracker live,
    KeyIndex index,
    IEnumerable<IRoutesChangedHandler> routes) : IChangeFeed
{
    /// <inheritdoc />
    public async Task KeyCreatedAsync(KeyHash hash, CancellationToken cancellationToken = default)
    {
        await index.RefreshAsync(hash, cancellationToken);
        // A use in the moment before the key existed here may have left an "unknown" entry in the cache.
        keys.Evict(hash);
    }

    /// <inheritdoc />
    public Task TenantsChangedAsync(CancellationToken cancellationToken = default) => directory.ReloadAsync(cancellationToken);

    /// <inheritdoc />
    public Task TenantChangedAsync(long tenantId, CancellationToken cancellationToken = default) =>
        directory.RefreshTenantAsync(tenantId, cancellationToken);

    /// <inheritdoc />
    public Task PlanChangedAsync(long planId, CancellationToken cancellationToken = default) =>
        directory.RefreshPlanAsync(planId, cancellationToken);

    /// <inheritdoc />
    public async Task KeyRevokedAsync(KeyHash hash, CancellationToken cancellationToken = default)
    {
        // The index first: a use between the two steps would otherwise cache the old state again.
        await index.RefreshAsync(hash, cancellationToken);
        keys.Evict(hash);
    }

    /// <inheritdoc />
    public async Task TenantRemovedAsync(long tenantId, CancellationToken cancellationToken = default)
    {
        await directory.RemoveAsync(tenantId, cancellationToken);
        index.RemoveTenant(tenantId);
        keys.EvictTenant(tenantId);
        limits.Forget(tenantId);
        live.Forget(tenantId);
    }

    /// <inheritdoc />
    public Task UsageRewrittenAsync(long tenantId, CancellationToken cancellationToken = default)
    {
        limits.Forget(tenantId);
        // Its figures changed without traffic: the dashboard's next pass reads it.
        live.Touch(tenantId);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async Task RoutesChangedAsync(CancellationToken cancellationToken = default)
    {
        foreach (var handler in routes)
        {
            await handler.RoutesChangedAsync(cancellationToken);
        }
    }
}

/// <summary>Reloads what serves routes when they change (the gateway's route table); the engine knows no gateway.</summary>
public interface IRoutesChangedHandler
{
    /// <summary>Reads the stored routes again.</summary>
    Task RoutesChangedAsync(CancellationToken cancellationToken = default);
}
