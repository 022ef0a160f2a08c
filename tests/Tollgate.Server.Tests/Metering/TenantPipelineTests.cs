using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Tollgate.Testing;

namespace Tollgate.Server.Tests.Metering;

/// <summary>
/// What runs for a tenant call besides metering. Both were found in a perf profile of the ping (2026-12-01), each
/// costing server CPU on every request though nothing was wrong in any answer: only a test of the pipeline itself
/// notices them coming back.
/// </summary>
public sealed class TenantPipelineTests
{
    [Fact]
    public async Task TenantCalls_DoNotRunTheAdminSidesAuthentication()
    {
        var counting = new CountingAuthentication();
        await using var app = new TollgateApp(configureServices: services => CountAuthentications(services, counting));
        var tenant = await app.CreateTenantAsync(1000);
        using var admin = await app.AdminClientAsync();
        Assert.True(counting.Authentications > 0, "the counter does not see the admin side's authentication");

        counting.Authentications = 0;
        using var client = app.TenantClient(tenant.ApiKey);
        for (var i = 0; i < 20; i++)
        {
            (await client.GetAsync("/api/v1/ping")).EnsureSuccessStatusCode();
        }

        Assert.Equal(0, counting.Authentications);

        (await admin.GetAsync("/api/admin/tenants")).EnsureSuccessStatusCode();
        Assert.True(counting.Authentications > 0);
    }

    [Fact]
    public async Task ProxiedCalls_MeteredOrNot_DoNotRunTheAdminSidesAuthentication()
    {
        await using var upstream = await AspNetUpstream.StartAsync();
        var counting = new CountingAuthentication();
        await using var app = new TollgateApp(
            settings: new Dictionary<string, string?>
            {
                ["ReverseProxy:Routes:shop:ClusterId"] = "up",
                ["ReverseProxy:Routes:shop:Match:Path"] = "/shop/{**rest}",
                ["ReverseProxy:Routes:open:ClusterId"] = "up",
                ["ReverseProxy:Routes:open:Match:Path"] = "/open/{**rest}",
                ["ReverseProxy:Routes:open:Metadata:Tollgate.Metered"] = "false",
                ["ReverseProxy:Clusters:up:Destinations:main:Address"] = upstream.Address,
            },
            configureServices: services => CountAuthentications(services, counting));
        var tenant = await app.CreateTenantAsync(1000);
        using var admin = await app.AdminClientAsync();
        counting.Authentications = 0;

        using var client = app.TenantClient(tenant.ApiKey);
        for (var i = 0; i < 10; i++)
        {
            (await client.GetAsync("/shop/orders")).EnsureSuccessStatusCode();
            (await client.GetAsync("/open/orders")).EnsureSuccessStatusCode();
        }

        Assert.Equal(0, counting.Authentications);
        Assert.Equal(20, upstream.CallsTo("/shop/orders") + upstream.CallsTo("/open/orders"));
        (await admin.GetAsync("/api/admin/tenants")).EnsureSuccessStatusCode();
        Assert.True(counting.Authentications > 0);
    }

    private static void CountAuthentications(IServiceCollection services, CountingAuthentication counting)
    {
        var original = services.Last(d => d.ServiceType == typeof(IAuthenticationService));
        services.Remove(original);
        services.Add(ServiceDescriptor.Describe(
            typeof(IAuthenticationService),
            sp => new CountingAuthenticationService((IAuthenticationService)ActivatorUtilities.CreateInstance(sp, original.ImplementationType!), counting),
            original.Lifetime));
    }

    [Fact]
    public async Task OutsideDevelopment_NoRouteLooksForFilesOnDisk()
    {
        await using var app = new TollgateApp();
        Assert.DoesNotContain(FileRoutes(app), _ => true);
    }

    [Fact]
    public async Task InDevelopment_ChangedStaticAssetsAreStillServed()
    {
        // The other side of the test above: in Development the framework's file fallback is there, which is also
        // how the test above would see it come back.
        await using var app = new TollgateApp(settings: new Dictionary<string, string?> { ["environment"] = "Development" });
        Assert.NotEmpty(FileRoutes(app));
    }

    /// <summary>Routes with a <c>file</c> parameter: the static assets' fallback for files not in the manifest.</summary>
    private static IEnumerable<string> FileRoutes(TollgateApp app)
    {
        app.CreateClient().Dispose();
        return app.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Select(e => e.RoutePattern.RawText ?? "")
            .Where(raw => raw.Contains(":file}", StringComparison.Ordinal));
    }

    private sealed class CountingAuthentication
    {
        public int Authentications;
    }

    private sealed class CountingAuthenticationService(IAuthenticationService inner, CountingAuthentication counting) : IAuthenticationService
    {
        public Task<AuthenticateResult> AuthenticateAsync(Microsoft.AspNetCore.Http.HttpContext context, string? scheme)
        {
            Interlocked.Increment(ref counting.Authentications);
            return inner.AuthenticateAsync(context, scheme);
        }

        public Task ChallengeAsync(Microsoft.AspNetCore.Http.HttpContext context, string? scheme, AuthenticationProperties? properties) =>
            inner.ChallengeAsync(context, scheme, properties);

        public Task ForbidAsync(Microsoft.AspNetCore.Http.HttpContext context, string? scheme, AuthenticationProperties? properties) =>
            inner.ForbidAsync(context, scheme, properties);

        public Task SignInAsync(Microsoft.AspNetCore.Http.HttpContext context, string? scheme, ClaimsPrincipal principal, AuthenticationProperties? properties) =>
            inner.SignInAsync(context, scheme, principal, properties);

        public Task SignOutAsync(Microsoft.AspNetCore.Http.HttpContext context, string? scheme, AuthenticationProperties? properties) =>
            inner.SignOutAsync(context, scheme, properties);
    }
}
