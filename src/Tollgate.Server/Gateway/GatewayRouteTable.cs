using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Primitives;
using Tollgate.Data;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;

namespace Tollgate.Gateway;

/// <summary>
/// The routes kept in <c>gateway_routes</c>, handed to YARP through its own configuration interface (one of the
/// proxy's <see cref="IProxyConfigProvider"/>s, beside the <c>ReverseProxy</c> configuration section). A reload reads
/// the table and swaps in a new snapshot whose change token fires the old one, so YARP rebuilds its endpoints
/// without a restart; the change feed makes every instance reload within milliseconds of an admin change.
/// </summary>
internal sealed partial class GatewayRouteTable(IServiceScopeFactory scopes, ILogger<GatewayRouteTable> logger)
    : IProxyConfigProvider, Changes.IRoutesChangedHandler, IDisposable
{
    /// <summary>Route metadata key: <c>false</c> forwards without a key and counts nothing (YARP routes from configuration may set it too).</summary>
    public const string MeteredKey = "Tollgate.Metered";

    /// <summary>Route metadata key: units an admitted request counts (default 1).</summary>
    public const string CostKey = "Tollgate.Cost";

    private readonly SemaphoreSlim _reloadGate = new(1, 1);
    private Snapshot _current = new([], []);

    /// <inheritdoc />
    public void Dispose()
    {
        _reloadGate.Dispose();
        _current.Dispose();
    }

    /// <inheritdoc />
    public IProxyConfig GetConfig() => Volatile.Read(ref _current);

    /// <inheritdoc />
    public Task RoutesChangedAsync(CancellationToken cancellationToken = default) => ReloadAsync(cancellationToken);

    /// <summary>Reads the stored routes and gives the proxy the new set.</summary>
    public async Task ReloadAsync(CancellationToken cancellationToken = default)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        await _reloadGate.WaitAsync(cancellationToken);
        try
        {
            List<GatewayRoute> stored;
            await using (var scope = scopes.CreateAsyncScope())
            {
                var db = scope.ServiceProvider.GetRequiredService<TollgateDbContext>();
                stored = await db.GatewayRoutes.AsNoTracking().OrderBy(r => r.Id).ToListAsync(cancellationToken);
            }

            var routes = new List<RouteConfig>(stored.Count);
            var clusters = new List<ClusterConfig>(stored.Count);
            foreach (var route in stored)
            {
                var (routeConfig, clusterConfig) = ToYarp(route);
                routes.Add(routeConfig);
                clusters.Add(clusterConfig);
            }

            var next = new Snapshot(routes, clusters);
            var previous = Interlocked.Exchange(ref _current, next);
            // YARP applies the new set inside this call (its change-token callback), endpoints and all.
            previous.Changed();
            LogReloaded(logger, stored.Count, System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
        finally
        {
            _reloadGate.Release();
        }
    }

    /// <summary>A stored route as YARP's route and cluster (one destination, the upstream).</summary>
    public static (RouteConfig Route, ClusterConfig Cluster) ToYarp(GatewayRoute route)
    {
        var id = string.Create(CultureInfo.InvariantCulture, $"tollgate-route-{route.Id}");
        var routeConfig = new RouteConfig
        {
            RouteId = id,
            ClusterId = id,
            Match = new RouteMatch { Path = route.Path },
            Metadata = new Dictionary<string, string>
            {
                [MeteredKey] = route.Metered ? "true" : "false",
                [CostKey] = route.Cost.ToString(CultureInfo.InvariantCulture),
            },
        };
        var clusterConfig = new ClusterConfig
        {
            ClusterId = id,
            Destinations = new Dictionary<string, DestinationConfig> { ["upstream"] = new() { Address = route.Upstream } },
            // The per-route timeout: YARP answers 504 when the upstream stays silent this long.
            HttpRequest = new ForwarderRequestConfig { ActivityTimeout = TimeSpan.FromSeconds(route.TimeoutSeconds) },
        };
        return (routeConfig, clusterConfig);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Gateway routes reloaded from the database: {Count} in {Milliseconds:F1} ms")]
    private static partial void LogReloaded(ILogger logger, int count, double milliseconds);

    /// <summary>One immutable set of routes; its token fires when a newer set replaces it.</summary>
    private sealed class Snapshot : IProxyConfig, IDisposable
    {
        private readonly CancellationTokenSource _changed = new();

        public Snapshot(IReadOnlyList<RouteConfig> routes, IReadOnlyList<ClusterConfig> clusters)
        {
            Routes = routes;
            Clusters = clusters;
            ChangeToken = new CancellationChangeToken(_changed.Token);
        }

        public string RevisionId { get; } = Guid.NewGuid().ToString("N");

        public IReadOnlyList<RouteConfig> Routes { get; }

        public IReadOnlyList<ClusterConfig> Clusters { get; }

        public IChangeToken ChangeToken { get; }

        // A replaced snapshot's source is left to the collector rather than disposed: YARP may still be registering
        // on its token.
        public void Changed() => _changed.Cancel();

        public void Dispose() => _changed.Dispose();
    }
}
