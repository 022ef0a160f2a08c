using Microsoft.Extensions.Options;
using System.Globalization;
using Tollgate.Keys;
using Tollgate.Metering;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Transforms;

namespace Tollgate.Gateway;

/// <summary>Registers and maps gateway mode: any HTTP API behind Tollgate, forwarded by YARP (CONTRACT §7).</summary>
public static class GatewayServiceCollectionExtensions
{
    /// <summary>The header an upstream learns the calling tenant from; a client's own copy never reaches it.</summary>
    public const string TenantHeader = "X-Tollgate-Tenant-Id";

    /// <summary>
    /// Adds YARP with two route sources: the standard <c>ReverseProxy</c> configuration section and the
    /// <c>gateway_routes</c> table, and the transforms that strip <c>X-API-KEY</c> and set <see cref="TenantHeader"/>.
    /// </summary>
    public static IServiceCollection AddTollgateGateway(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddSingleton<GatewayRouteTable>();
        services.AddSingleton<IProxyConfigProvider>(sp => sp.GetRequiredService<GatewayRouteTable>());
        services.AddSingleton<Changes.IRoutesChangedHandler>(sp => sp.GetRequiredService<GatewayRouteTable>());
        services.AddSingleton<Data.IStartupSeeder, GatewayRouteLoader>();
        services.AddReverseProxy()
            .LoadFromConfig(configuration.GetSection("ReverseProxy"))
            .AddTransforms(static builder =>
            {
                // The key never reaches the upstream, whichever header carries it.
                builder.AddRequestHeaderRemove(builder.Services.GetRequiredService<IOptions<MeteringOptions>>().Value.ApiKeyHeader);
                builder.AddRequestHeaderRemove(TenantHeader);
                builder.AddRequestTransform(static transform =>
                {
                    // Set by the metering middleware once the key is known; absent on routes with metered: false.
                    if (transform.HttpContext.Features.Get<ApiCaller>() is { } caller)
                    {
                        transform.ProxyRequest.Headers.TryAddWithoutValidation(
                            TenantHeader, caller.Tenant.Id.ToString(CultureInfo.InvariantCulture));
                    }

                    return ValueTask.CompletedTask;
                });
            });
        return services;
    }

    /// <summary>
    /// Maps the proxied routes. A metered route carries the same <see cref="MeteringMetadata"/> as the hosted
    /// endpoints, so the one metering middleware decides it (key, limits, headers, usage) before YARP forwards it.
    /// </summary>
    public static IEndpointRouteBuilder MapGateway(this IEndpointRouteBuilder routes)
    {
        ArgumentNullException.ThrowIfNull(routes);
        routes.MapReverseProxy(proxy =>
            {
                proxy.UseSessionAffinity();
                proxy.UseLoadBalancing();
                proxy.UsePassiveHealthChecks();
                proxy.Use(GatewayPipeline.ForwardAsync);
            })
            .ConfigureEndpoints(static (endpoint, route) =>
            {
                if (MeteringOf(route) is { } metering)
                {
                    endpoint.WithMetadata(metering);
                }
            });
        return routes;
    }

    /// <summary>The metering of a route from its metadata: metered with cost 1 unless it says otherwise.</summary>
    internal static MeteringMetadata? MeteringOf(RouteConfig route)
    {
        var metadata = route.Metadata;
        if (metadata is not null && metadata.TryGetValue(GatewayRouteTable.MeteredKey, out var metered)
            && bool.TryParse(metered, out var isMetered) && !isMetered)
        {
            return null;
        }

        var cost = 1;
        if (metadata is not null && metadata.TryGetValue(GatewayRouteTable.CostKey, out var text)
            && (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out cost) || cost < 1))
        {
            throw new InvalidOperationException(
                $"Route '{route.RouteId}': metadata {GatewayRouteTable.CostKey} must be a whole number of at least 1, not '{text}'.");
        }

        return new MeteringMetadata(true) { Cost = cost, Proxied = true };
    }

    private sealed class GatewayRouteLoader(GatewayRouteTable table) : Data.IStartupSeeder
    {
        public Task SeedAsync(CancellationToken cancellationToken) => table.ReloadAsync(cancellationToken);
    }
}
