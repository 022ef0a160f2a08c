using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Tollgate.Testing;

namespace Tollgate.Server.Tests.Admin;

public sealed class SetupTests
{
    [Fact]
    public async Task Setup_CreatesDemoTenantsWithKeysAndHistory_AndNeverDuplicates()
    {
        await using var app = new TollgateApp();
        using var admin = await app.AdminClientAsync();
        var first = await (await admin.PostAsJsonAsync("/api/admin/setup", new { reset = false, historyDays = 3 })).ReadJsonAsync();
        var tenants = first.GetProperty("tenants").EnumerateArray().ToList();
        Assert.Equal(["Acme Corp", "Wayne Ent"], tenants.Select(t => t.GetProperty("name").GetString()));

        // Simulated history is stored like real traffic: raw rows, roll-ups and (this period's) quota counters.
        var logs = await app.Database.ScalarAsync("SELECT COUNT(*) FROM usage_logs");
        Assert.True(logs > 1000, $"{logs} rows of history");
        Assert.Equal(logs, await app.Database.ScalarAsync("SELECT SUM(count) FROM usage_rollups"));
        var dashboard = await (await admin.GetAsync("/api/dashboard-data")).ReadJsonAsync();
        var wayne = dashboard.GetProperty("tenants").EnumerateArray().Single(t => t.GetProperty("name").GetString() == "Wayne Ent");
        var counted = await app.Database.ScalarAsync("SELECT COALESCE(SUM(used), 0) FROM quota_counters WHERE tenant_id = @t AND period = 'Month' AND period_start = @s",
            ("@t", wayne.GetProperty("id").GetInt64()),
            ("@s", new DateTime(DateTime.UtcNow.Year, DateTime.UtcNow.Month, 1, 0, 0, 0, DateTimeKind.Utc)));
        Assert.Equal(counted, wayne.GetProperty("used").GetInt64());

        var second = await (await admin.PostAsJsonAsync("/api/admin/setup", new { reset = false, historyDays = 3 })).ReadJsonAsync();
        Assert.Equal(
            tenants.Select(t => t.GetProperty("id").GetInt64()),
            second.GetProperty("tenants").EnumerateArray().Select(t => t.GetProperty("id").GetInt64()));
        Assert.NotEqual(tenants[0].GetProperty("apiKey").GetString(), second.GetProperty("tenants")[0].GetProperty("apiKey").GetString());
        Assert.Equal(logs, await app.Database.ScalarAsync("SELECT COUNT(*) FROM usage_logs"));
        Assert.Equal(2, await app.Database.ScalarAsync("SELECT COUNT(*) FROM tenants"));

        foreach (var tenant in tenants)
        {
            using var client = app.TenantClient(tenant.GetProperty("apiKey").GetString()!);
            var users = await (await client.GetAsync("/api/v1/users")).ReadJsonAsync();
            Assert.NotEmpty(users.GetProperty("users").EnumerateArray());
        }
    }

    [Fact]
    public async Task Setup_Reset_RecreatesTheDemoTenantsOnly()
    {
        await using var app = new TollgateApp();
        var mine = await app.CreateTenantAsync(10);
        using var admin = await app.AdminClientAsync();
        var first = await (await admin.PostAsJsonAsync("/api/admin/setup", new { historyDays = 0 })).ReadJsonAsync();
        var reset = await (await admin.PostAsJsonAsync("/api/admin/setup", new { reset = true, historyDays = 0 })).ReadJsonAsync();
        Assert.NotEqual(first.GetProperty("tenants")[0].GetProperty("id").GetInt64(), reset.GetProperty("tenants")[0].GetProperty("id").GetInt64());
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync($"/api/admin/tenants/{mine.Id}")).StatusCode);
        using var oldKey = app.TenantClient(first.GetProperty("tenants")[0].GetProperty("apiKey").GetString()!);
        await (await oldKey.GetAsync("/api/v1/ping")).ProblemAsync(401);
    }

    [Theory]
    [InlineData("{\"historyDays\":-1}")]
    [InlineData("{\"historyDays\":91}")]
    [InlineData("{\"historyDays\":\"seven\"}")]
    [InlineData("{\"reset\":\"yes\"}")]
    public async Task Setup_BadInput_Is400AndCreatesNothing(string body)
    {
        await using var app = new TollgateApp();
        using var admin = await app.AdminClientAsync();
        await (await admin.PostAsync("/api/admin/setup", Json.Raw(body))).ProblemAsync(400);
        Assert.Equal(0, await app.Database.ScalarAsync("SELECT COUNT(*) FROM tenants"));
    }

    [Fact]
    public async Task DemoSetting_CreatesTheDemoOnFirstStart()
    {
        await using var app = new TollgateApp(settings: new Dictionary<string, string?> { ["Tollgate:Demo"] = "true" });
        using var admin = await app.AdminClientAsync();
        var tenants = await (await admin.GetAsync("/api/admin/tenants")).ReadJsonAsync();
        Assert.Equal(["Acme Corp", "Wayne Ent"], tenants.EnumerateArray().Select(t => t.GetProperty("name").GetString()));
        Assert.True(await app.Database.ScalarAsync("SELECT COUNT(*) FROM usage_rollups") > 0);
    }

    [Fact]
    public async Task FirstStart_GeneratesAnAdminPasswordWhenNoneIsConfigured()
    {
        await using var app = new TollgateApp(settings: new Dictionary<string, string?> { ["Tollgate:Admin:Password"] = "" });
        using var client = app.CreateClient();
        await (await client.PostAsJsonAsync("/api/auth/login", new { username = "admin", password = "" })).ProblemAsync(400);
        await (await client.PostAsJsonAsync("/api/auth/login", new { username = "admin", password = TollgateApp.AdminPassword })).ProblemAsync(401);
        var hash = await app.Database.ScalarAsync("SELECT COUNT(*) FROM admins WHERE username = 'admin' AND length(password_hash) > 40");
        Assert.Equal(1, hash);
    }
}
