using Tollgate.Testing;

namespace Tollgate.Server.Tests.Gateway;

/// <summary>
/// One Tollgate in gateway mode per test class, with routes from the standard <c>ReverseProxy</c> configuration
/// section in front of two real upstreams (ASP.NET Core and python3) and one address where nothing listens.
/// Tests make their own tenants, so they do not interfere.
/// </summary>
public sealed class GatewayFixture : IAsyncLifetime
{
    public AspNetUpstream AspNet { get; private set; } = null!;

    public PythonUpstream Python { get; private set; } = null!;

    public TollgateApp App { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        AspNet = await AspNetUpstream.StartAsync();
        Python = await PythonUpstream.StartAsync();
        var settings = new Dictionary<string, string?>();
        void Route(string id, string path, string address, string? metered = null, string? cost = null)
        {
            settings[$"ReverseProxy:Routes:{id}:ClusterId"] = id;
            settings[$"ReverseProxy:Routes:{id}:Match:Path"] = path;
            settings[$"ReverseProxy:Clusters:{id}:Destinations:main:Address"] = address;
            if (metered is not null)
            {
                settings[$"ReverseProxy:Routes:{id}:Metadata:Tollgate.Metered"] = metered;
            }

            if (cost is not null)
            {
                settings[$"ReverseProxy:Routes:{id}:Metadata:Tollgate.Cost"] = cost;
            }
        }

        Route("shop", "/shop/{**rest}", AspNet.Address);
        Route("py", "/py/{**rest}", Python.Address);
        Route("public", "/public/{**rest}", AspNet.Address, metered: "false");
        Route("costly", "/costly/{**rest}", AspNet.Address, cost: "3");
        Route("down", "/down/{**rest}", $"http://127.0.0.1:{FreePort.Next()}/");
        App = new TollgateApp(settings: settings);
        _ = App.Server;
    }

    public async Task DisposeAsync()
    {
        await App.DisposeAsync();
        await Python.DisposeAsync();
        await AspNet.DisposeAsync();
    }
}
