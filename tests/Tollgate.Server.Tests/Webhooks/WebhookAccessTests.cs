using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Tollgate.Testing;

namespace Tollgate.Server.Tests.Webhooks;

/// <summary>Who may see and change webhooks, and where a webhook may point (SSRF).</summary>
public sealed class WebhookAccessTests
{
    private static readonly int[] NinetyFifty = [90, 50];
    private static readonly int[] Zero = [0];
    private static readonly int[] Twice80 = [80, 80];

    [Fact]
    public async Task WithoutAllowPrivateNetworks_LoopbackAndPrivateUrlsAreRefused_AtCreationAndAtDelivery()
    {
        await using var receiver = WebhookReceiver.Start();
        await using var app = new TollgateApp();
        using var admin = await app.AdminClientAsync();
        foreach (var url in new[] { receiver.Url, "http://localhost:9/x", "http://10.1.2.3/x", "http://169.254.169.254/latest", "http://[::1]:9/x", "http://192.168.1.1/" })
        {
            var response = await admin.PostAsJsonAsync("/api/admin/webhooks", new { url, tenantId = (long?)null });
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{url}: {response.StatusCode}");
            Assert.Contains("AllowPrivateNetworks", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // A row that points at loopback anyway (saved while the option was on, or a name that now resolves there):
        // the delivery connects to nothing private.
        await app.Database.ExecuteAsync(
            "INSERT INTO webhook_endpoints (tenant_id, url, events, secret, enabled, created_at) VALUES (NULL, @u, 'quota.threshold', @s, @e, @c)",
            ("@u", receiver.Url), ("@s", "whsec_" + Convert.ToBase64String(new byte[32])), ("@e", true), ("@c", DateTime.UtcNow));
        var id = (await admin.GetFromJsonAsync<JsonElement>("/api/admin/webhooks")).EnumerateArray().Single().GetProperty("id").GetInt64();
        Assert.Equal(HttpStatusCode.Accepted, (await admin.PostAsync($"/api/admin/webhooks/{id}/test", Json.Raw(""))).StatusCode);
        JsonElement attempt = default;
        for (var i = 0; i < 100 && attempt.ValueKind == JsonValueKind.Undefined; i++)
        {
            await Task.Delay(100);
            attempt = (await admin.GetFromJsonAsync<JsonElement>($"/api/admin/webhooks/{id}/deliveries")).EnumerateArray()
                .FirstOrDefault(d => d.GetProperty("time").ValueKind != JsonValueKind.Null);
        }

        Assert.NotEqual(JsonValueKind.Undefined, attempt.ValueKind);
        Assert.Contains("Refused to connect", attempt.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Empty(receiver.Received);
    }

    [Fact]
    public async Task TenantAdmin_SeesAndManagesOnlyItsOwnTenantsWebhooks()
    {
        await using var app = new TollgateApp(settings: QuotaAlertWebhookTests.Settings);
        var mine = await app.CreateTenantAsync(100);
        var other = await app.CreateTenantAsync(100);
        using var super = await app.AdminClientAsync();
        await QuotaAlertWebhookTests.CreateWebhookAsync(super, "http://127.0.0.1:9/other", other.Id);
        await QuotaAlertWebhookTests.CreateWebhookAsync(super, "http://127.0.0.1:9/global", null);
        var otherId = (await super.GetFromJsonAsync<JsonElement>("/api/admin/webhooks")).EnumerateArray()
            .Single(h => h.GetProperty("url").GetString()!.EndsWith("/other", StringComparison.Ordinal)).GetProperty("id").GetInt64();

        using var tenantAdmin = await app.AdminClientAsync("TenantAdmin", mine.Id);
        var created = await tenantAdmin.PostAsJsonAsync("/api/admin/webhooks", new { url = "http://127.0.0.1:9/mine" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal(mine.Id, (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("tenantId").GetInt64());

        var listed = await tenantAdmin.GetFromJsonAsync<JsonElement>("/api/admin/webhooks");
        Assert.Equal([mine.Id], listed.EnumerateArray().Select(h => h.GetProperty("tenantId").GetInt64()));
        Assert.Equal(HttpStatusCode.NotFound, (await tenantAdmin.GetAsync($"/api/admin/webhooks/{otherId}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await tenantAdmin.GetAsync($"/api/admin/webhooks/{otherId}/deliveries")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await tenantAdmin.PostAsync($"/api/admin/webhooks/{otherId}/test", Json.Raw(""))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await tenantAdmin.PatchAsJsonAsync($"/api/admin/webhooks/{otherId}", new { enabled = false })).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await tenantAdmin.DeleteAsync($"/api/admin/webhooks/{otherId}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound,
            (await tenantAdmin.PostAsJsonAsync("/api/admin/webhooks", new { url = "http://127.0.0.1:9/x", tenantId = other.Id })).StatusCode);

        using var viewer = await app.AdminClientAsync("Viewer", null);
        Assert.Equal(3, (await viewer.GetFromJsonAsync<JsonElement>("/api/admin/webhooks")).GetArrayLength());
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.PostAsJsonAsync("/api/admin/webhooks", new { url = "http://127.0.0.1:9/v" })).StatusCode);

        // The secret is in no listing and no audit row.
        var audit = await super.GetStringAsync("/api/admin/audit");
        Assert.Contains("webhook.create", audit, StringComparison.Ordinal);
        Assert.DoesNotContain("whsec_", audit, StringComparison.Ordinal);
        Assert.DoesNotContain("whsec_", await super.GetStringAsync("/api/admin/webhooks"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task PlanAlertThresholds_DefaultTo80And100_AndAreValidated()
    {
        await using var app = new TollgateApp();
        using var admin = await app.AdminClientAsync();
        var plan = await (await admin.PostAsJsonAsync("/api/admin/plans", new { name = "p-default", quota = new { limit = 10, period = "Day" } }))
            .Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal([80, 100], plan.GetProperty("alertThresholds").EnumerateArray().Select(t => t.GetInt32()));
        var id = plan.GetProperty("id").GetInt64();
        var patched = await admin.PatchAsJsonAsync($"/api/admin/plans/{id}", new { alertThresholds = NinetyFifty });
        Assert.Equal([50, 90], (await patched.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("alertThresholds").EnumerateArray().Select(t => t.GetInt32()));
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.PatchAsJsonAsync($"/api/admin/plans/{id}", new { alertThresholds = Zero })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest,
            (await admin.PostAsJsonAsync("/api/admin/plans", new { name = "p-bad", quota = new { limit = 10, period = "Day" }, alertThresholds = Twice80 })).StatusCode);
    }
}
