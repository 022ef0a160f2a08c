using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Tollgate.Testing;

namespace Tollgate.Server.Tests.Admin;

/// <summary>
/// Every admin route (API and pages), as the app's own endpoint list has them, called by each role: no session, a
/// viewer of every tenant, a tenant admin of another tenant, the tenant's admin, a super admin. A route without a rule
/// here fails the test, so a new route cannot ship without someone deciding who may call it.
/// </summary>
public sealed class RouteByRoleTests
{
    private const string Password = "a-long-enough-password";

    /// <summary>Routes that are not the admin side: the tenant API (API keys), operations, the OpenAPI document.</summary>
    private static readonly string[] NotAdmin = ["/api/v1", "/healthz", "/readyz", "/metrics", "/openapi"];

    // Expected status for: none, viewer, tenant admin of another tenant, tenant admin, super admin.
    // Placeholders: {tenant} the tenant, {freshTenant} a new tenant, {plan} a new plan, {key} a new key of the tenant,
    // {admin} a new viewer account, {unique} a new name.
    private static readonly Dictionary<string, Rule> Rules = new()
    {
        ["GET /"] = new("/", null, [302, 200, 200, 200, 200]),
        ["GET /login"] = new("/login", null, [200, 200, 200, 200, 200]),
        ["GET /plans"] = new("/plans", null, [302, 200, 200, 200, 200]),
        ["GET /audit"] = new("/audit", null, [302, 200, 200, 200, 200]),
        ["GET /account"] = new("/account", null, [302, 200, 200, 200, 200]),
        ["GET /tenants/{id:long}"] = new("/tenants/{tenant}", null, [302, 200, 200, 200, 200]),
        ["GET /setup"] = new("/setup", null, [302, 302, 302, 302, 200]),
        ["GET /admins"] = new("/admins", null, [302, 302, 302, 302, 200]),
        ["GET /routes"] = new("/routes", null, [302, 302, 302, 302, 200]),
        ["GET /webhooks"] = new("/webhooks", null, [302, 200, 200, 200, 200]),

        ["POST /api/auth/login"] = new("/api/auth/login", """{"username":"{unique}","password":"wrong"}""", [401, 401, 401, 401, 401]),
        ["GET /api/auth/me"] = new("/api/auth/me", null, [401, 200, 200, 200, 200]),
        ["POST /api/auth/logout"] = new("/api/auth/logout", "", [204, 204, 204, 204, 204], EndsSession: true),
        ["POST /api/auth/totp/setup"] = new("/api/auth/totp/setup", "{}", [401, 200, 200, 200, 200]),
        ["POST /api/auth/totp/enable"] = new("/api/auth/totp/enable", """{"code":"not-a-code"}""", [401, 400, 400, 400, 400]),
        ["POST /api/auth/totp/disable"] = new("/api/auth/totp/disable", """{"password":"not-the-password"}""", [401, 400, 400, 400, 400]),
        ["POST /api/auth/password"] = new("/api/auth/password", """{"currentPassword":"not-the-password","newPassword":"another-long-password"}""", [401, 400, 400, 400, 400]),

        ["GET /api/dashboard-data"] = new("/api/dashboard-data", null, [401, 200, 200, 200, 200]),
        ["GET /api/admin/stream"] = new("/api/admin/stream", null, [401, 200, 200, 200, 200]),
        ["GET /api/admin/audit"] = new("/api/admin/audit", null, [401, 200, 200, 200, 200]),
        ["POST /api/admin/setup"] = new("/api/admin/setup", """{"historyDays":0}""", [401, 403, 403, 403, 200]),

        ["GET /api/admin/usage"] = new("/api/admin/usage?tenantId={tenant}", null, [401, 200, 404, 200, 200]),
        ["GET /api/admin/usage/endpoints"] = new("/api/admin/usage/endpoints?tenantId={tenant}", null, [401, 200, 404, 200, 200]),
        ["GET /api/admin/usage/status-codes"] = new("/api/admin/usage/status-codes?tenantId={tenant}", null, [401, 200, 404, 200, 200]),
        ["GET /api/admin/logs"] = new("/api/admin/logs?tenantId={tenant}", null, [401, 200, 404, 200, 200]),
        ["GET /api/admin/tenants/{id:long}/statements"] = new("/api/admin/tenants/{tenant}/statements", null, [401, 200, 404, 200, 200]),
        ["GET /api/admin/tenants/{id:long}/statements/{month}"] = new("/api/admin/tenants/{tenant}/statements/2026-01", null, [401, 200, 404, 200, 200]),

        ["GET /api/admin/plans"] = new("/api/admin/plans", null, [401, 200, 200, 200, 200]),
        ["POST /api/admin/plans"] = new("/api/admin/plans", """{"name":"{unique}","quota":{"limit":10,"period":"Day"}}""", [401, 403, 403, 403, 201]),
        ["GET /api/admin/plans/{id:long}"] = new("/api/admin/plans/{plan}", null, [401, 200, 200, 200, 200]),
        ["PATCH /api/admin/plans/{id:long}"] = new("/api/admin/plans/{plan}", """{"quota":{"limit":20,"period":"Day"}}""", [401, 403, 403, 403, 200]),
        ["DELETE /api/admin/plans/{id:long}"] = new("/api/admin/plans/{plan}", null, [401, 403, 403, 403, 204]),

        ["GET /api/admin/tenants"] = new("/api/admin/tenants", null, [401, 200, 200, 200, 200]),
        ["POST /api/admin/tenants"] = new("/api/admin/tenants", """{"name":"{unique}","planId":{plan}}""", [401, 403, 403, 403, 201]),
        ["GET /api/admin/tenants/{id:long}"] = new("/api/admin/tenants/{tenant}", null, [401, 200, 404, 200, 200]),
        ["PATCH /api/admin/tenants/{id:long}"] = new("/api/admin/tenants/{tenant}", """{"status":"Active"}""", [401, 403, 403, 403, 200]),
        ["DELETE /api/admin/tenants/{id:long}"] = new("/api/admin/tenants/{freshTenant}", null, [401, 403, 403, 403, 204]),
        ["GET /api/admin/tenants/{id:long}/users"] = new("/api/admin/tenants/{tenant}/users", null, [401, 200, 404, 200, 200]),
        ["GET /api/admin/tenants/{id:long}/keys"] = new("/api/admin/tenants/{tenant}/keys", null, [401, 200, 404, 200, 200]),
        ["POST /api/admin/tenants/{id:long}/keys"] = new("/api/admin/tenants/{tenant}/keys", """{"name":"route-test"}""", [401, 403, 404, 201, 201]),
        ["DELETE /api/admin/tenants/{id:long}/keys/{keyId:long}"] = new("/api/admin/tenants/{tenant}/keys/{key}", null, [401, 403, 404, 204, 204]),
        ["POST /api/admin/tenants/{id:long}/keys/{keyId:long}/rotate"] = new("/api/admin/tenants/{tenant}/keys/{key}/rotate", """{"gracePeriodSeconds":60}""", [401, 403, 404, 201, 201]),

        ["GET /api/admin/admins"] = new("/api/admin/admins", null, [401, 403, 403, 403, 200]),
        ["POST /api/admin/admins"] = new("/api/admin/admins", """{"username":"{unique}","role":"Viewer","tenantId":null}""", [401, 403, 403, 403, 201]),
        ["GET /api/admin/admins/{id:long}"] = new("/api/admin/admins/{admin}", null, [401, 403, 403, 403, 200]),
        ["PATCH /api/admin/admins/{id:long}"] = new("/api/admin/admins/{admin}", """{"tenantId":{tenant}}""", [401, 403, 403, 403, 200]),
        ["DELETE /api/admin/admins/{id:long}"] = new("/api/admin/admins/{admin}", null, [401, 403, 403, 403, 204]),

        // Gateway routes are SuperAdmin's; a route id that does not exist is 404 for it, refused before for the others.
        ["GET /api/admin/routes"] = new("/api/admin/routes", null, [401, 403, 403, 403, 200]),
        ["POST /api/admin/routes"] = new("/api/admin/routes", """{"path":"/rbr-{unique}/{**rest}","upstream":"http://127.0.0.1:9/","metered":true,"cost":1}""", [401, 403, 403, 403, 201]),
        ["GET /api/admin/routes/{id:long}"] = new("/api/admin/routes/999999999", null, [401, 403, 403, 403, 404]),
        ["PATCH /api/admin/routes/{id:long}"] = new("/api/admin/routes/999999999", """{"cost":2}""", [401, 403, 403, 403, 404]),
        ["DELETE /api/admin/routes/{id:long}"] = new("/api/admin/routes/999999999", null, [401, 403, 403, 403, 404]),

        // Webhooks: a tenant admin manages its own tenant's (the tenant admin of another tenant gets 404, or 403 for an
        // endpoint of every tenant), a viewer reads. An id that does not exist is 404 for whoever may look.
        ["GET /api/admin/webhooks"] = new("/api/admin/webhooks", null, [401, 200, 200, 200, 200]),
        ["POST /api/admin/webhooks"] = new("/api/admin/webhooks", """{"url":"http://127.0.0.1:9/rbr","tenantId":{tenant}}""", [401, 403, 404, 201, 201]),
        ["GET /api/admin/webhooks/{id:long}"] = new("/api/admin/webhooks/999999999", null, [401, 404, 404, 404, 404]),
        ["PATCH /api/admin/webhooks/{id:long}"] = new("/api/admin/webhooks/999999999", """{"enabled":false}""", [401, 403, 404, 404, 404]),
        ["DELETE /api/admin/webhooks/{id:long}"] = new("/api/admin/webhooks/999999999", null, [401, 403, 404, 404, 404]),
        ["POST /api/admin/webhooks/{id:long}/test"] = new("/api/admin/webhooks/999999999/test", "", [401, 403, 404, 404, 404]),
        ["GET /api/admin/webhooks/{id:long}/deliveries"] = new("/api/admin/webhooks/999999999/deliveries", null, [401, 404, 404, 404, 404]),
        ["GET /api/admin/alerts"] = new("/api/admin/alerts", null, [401, 200, 200, 200, 200]),
        ["PUT /api/admin/tenants/{id:long}/alert-thresholds"] = new("/api/admin/tenants/{tenant}/alert-thresholds", """{"alertThresholds":[50,100]}""", [401, 403, 403, 403, 200]),
    };

    private static readonly string[] RoleNames = ["none", "Viewer", "TenantAdmin of another tenant", "TenantAdmin", "SuperAdmin"];

    [Fact]
    public async Task EveryAdminRoute_AnswersEachRoleAsItsRuleSays()
    {
        await using var app = new TollgateApp(settings: new Dictionary<string, string?>
        {
            ["Tollgate:Admin:Login:MaxFailuresPerAddress"] = "1000",
            ["Tollgate:Webhooks:AllowPrivateNetworks"] = "true",
        });
        var routes = AdminRoutes(app);
        var missing = routes.Except(Rules.Keys).ToList();
        var stale = Rules.Keys.Except(routes).ToList();
        Assert.True(missing.Count == 0, "Routes without a rule in RouteByRoleTests (say who may call them): " + string.Join(", ", missing));
        Assert.True(stale.Count == 0, "Rules for routes that no longer exist: " + string.Join(", ", stale));

        var tenant = await app.CreateTenantAsync(1000);
        var other = await app.CreateTenantAsync(1000);
        using var super = await app.AdminClientAsync();
        var logins = new (string Username, long? TenantId, string Role)[]
        {
            ("", null, ""),
            ("route-viewer", null, "Viewer"),
            ("route-other-ta", other.Id, "TenantAdmin"),
            ("route-ta", tenant.Id, "TenantAdmin"),
        };
        foreach (var (username, tenantId, role) in logins.Skip(1))
        {
            (await super.PostAsJsonAsync("/api/admin/admins", new { username, role, tenantId, password = Password })).EnsureSuccessStatusCode();
        }

        async Task<HttpClient> ClientAsync(int role) => role switch
        {
            0 => app.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false }),
            4 => await app.LoginAsync("admin", TollgateApp.AdminPassword),
            _ => await app.LoginAsync(logins[role].Username, Password),
        };

        var clients = new HttpClient[5];
        for (var role = 0; role < 5; role++)
        {
            clients[role] = await ClientAsync(role);
        }

        var failures = new List<string>();
        foreach (var (route, rule) in Rules.OrderBy(r => r.Value.EndsSession))
        {
            var method = route[..route.IndexOf(' ', StringComparison.Ordinal)];
            for (var role = 0; role < 5; role++)
            {
                var url = await FillAsync(rule.Url, app, super, tenant);
                var body = rule.Body is null ? null : await FillAsync(rule.Body, app, super, tenant);
                using var client = rule.EndsSession ? await ClientAsync(role) : null;
                var status = await SendAsync(client ?? clients[role], method, url, body);
                if (status != rule.Expected[role])
                {
                    failures.Add($"{method} {url} as {RoleNames[role]}: {status}, expected {rule.Expected[role]}");
                }
            }
        }

        foreach (var client in clients)
        {
            client.Dispose();
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    private static List<string> AdminRoutes(TollgateApp app)
    {
        var sources = app.Services.GetRequiredService<IEnumerable<EndpointDataSource>>();
        // wwwroot's assets (MapStaticAssets, and its fallback for files added since the build when run from the build
        // output) are public by design; Deployment/PublishedServerTests checks how they are served.
        return sources.SelectMany(s => s.Endpoints).OfType<RouteEndpoint>()
            .Where(e => e.Metadata.GetMetadata<Microsoft.AspNetCore.StaticAssets.StaticAssetDescriptor>() is null && e.RoutePattern.RawText != "{**path:file}")
            .Select(e => (Pattern: "/" + (e.RoutePattern.RawText ?? "").Trim('/'), Methods: e.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()?.HttpMethods ?? ["*"]))
            .Where(e => !NotAdmin.Any(prefix => e.Pattern.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)))
            .SelectMany(e => e.Methods.Select(m => $"{m} {e.Pattern}"))
            .Distinct()
            .ToList();
    }

    private static async Task<int> SendAsync(HttpClient client, string method, string url, string? body)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), url) { Content = body is null ? null : Json.Raw(body) };
        using var cancel = new CancellationTokenSource();
        // The stream never ends by itself: the status line is all this test needs.
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel.Token);
        await cancel.CancelAsync();
        return (int)response.StatusCode;
    }

    private static async Task<string> FillAsync(string template, TollgateApp app, HttpClient super, TestTenant tenant)
    {
        var text = template.Replace("{tenant}", tenant.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{unique}", "route-" + Guid.NewGuid().ToString("N")[..10], StringComparison.Ordinal);
        if (text.Contains("{plan}", StringComparison.Ordinal))
        {
            var plan = await IdOfAsync(super.PostAsJsonAsync("/api/admin/plans", new { name = "p-" + Guid.NewGuid().ToString("N")[..10], quota = new { limit = 10, period = "Day" } }));
            text = text.Replace("{plan}", plan, StringComparison.Ordinal);
        }

        if (text.Contains("{freshTenant}", StringComparison.Ordinal))
        {
            text = text.Replace("{freshTenant}", (await app.CreateTenantAsync(10)).Id.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
        }

        if (text.Contains("{key}", StringComparison.Ordinal))
        {
            text = text.Replace("{key}", await IdOfAsync(super.PostAsJsonAsync($"/api/admin/tenants/{tenant.Id}/keys", new { name = "k" })), StringComparison.Ordinal);
        }

        if (text.Contains("{admin}", StringComparison.Ordinal))
        {
            var admin = await IdOfAsync(super.PostAsJsonAsync("/api/admin/admins", new { username = "a-" + Guid.NewGuid().ToString("N")[..10], role = "Viewer" }));
            text = text.Replace("{admin}", admin, StringComparison.Ordinal);
        }

        return text;
    }

    private static async Task<string> IdOfAsync(Task<HttpResponseMessage> request)
    {
        var response = await request;
        response.EnsureSuccessStatusCode();
        return (await response.ReadJsonAsync()).GetProperty("id").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    private sealed record Rule(string Url, string? Body, int[] Expected, bool EndsSession = false);
}
