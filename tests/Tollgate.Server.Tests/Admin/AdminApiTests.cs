using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Tollgate.Data;
using Tollgate.Testing;

namespace Tollgate.Server.Tests.Admin;

public sealed class AdminApiTests(SharedApp shared) : IClassFixture<SharedApp>
{
    // CONTRACT §9: a plan's alert thresholds default to 80 % and 100 %.
    private static readonly int[] DefaultAlertThresholds = [80, 100];

    private readonly TollgateApp _app = shared.App;

    [Theory]
    [InlineData("GET", "/api/dashboard-data")]
    [InlineData("GET", "/api/admin/plans")]
    [InlineData("POST", "/api/admin/plans")]
    [InlineData("GET", "/api/admin/tenants")]
    [InlineData("GET", "/api/admin/tenants/1/keys")]
    [InlineData("DELETE", "/api/admin/tenants/1/keys/1")]
    [InlineData("GET", "/api/admin/tenants/1/users")]
    [InlineData("POST", "/api/admin/setup")]
    [InlineData("GET", "/api/admin/audit")]
    [InlineData("GET", "/api/admin/stream")]
    public async Task AdminRoutes_WithoutSession_Are401Problems(string method, string url)
    {
        using var client = _app.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        using var request = new HttpRequestMessage(new HttpMethod(method), url) { Content = method == "GET" ? null : Json.Raw("{}") };
        await (await client.SendAsync(request)).ProblemAsync(401);
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/setup")]
    public async Task Pages_WithoutSession_RedirectToLogin(string url)
    {
        using var client = _app.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        var response = await client.GetAsync(url);
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.StartsWith("/login", response.Headers.Location!.PathAndQuery, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/login")).StatusCode);
    }

    [Fact]
    public async Task Pages_WithSession_AreServed()
    {
        using var admin = await _app.AdminClientAsync();
        var page = await admin.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Contains("/js/overview.js", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("admin", "wrong")]
    [InlineData("nobody", "test-admin-password")]
    public async Task Login_BadCredentials_Is401(string username, string password)
    {
        using var client = _app.CreateClient();
        await (await client.PostAsJsonAsync("/api/auth/login", new { username, password })).ProblemAsync(401);
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("{\"username\":1,\"password\":2}")]
    [InlineData("nope")]
    public async Task Login_Malformed_Is400(string body)
    {
        using var client = _app.CreateClient();
        await (await client.PostAsync("/api/auth/login", Json.Raw(body))).ProblemAsync(400);
    }

    [Fact]
    public async Task Logout_EndsTheSession()
    {
        using var admin = await _app.AdminClientAsync();
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/api/admin/plans")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.PostEmptyJsonAsync("/api/auth/logout")).StatusCode);
        await (await admin.GetAsync("/api/admin/plans")).ProblemAsync(401);
    }

    [Fact]
    public async Task Plans_CreateGetPatchDelete_WithMergePatchSemantics()
    {
        using var admin = await _app.AdminClientAsync();
        var name = "Plan " + Guid.NewGuid().ToString("N")[..8];
        var created = await admin.PostAsJsonAsync("/api/admin/plans", new { name, quota = new { limit = 500, period = "Day" }, rate = new { limit = 5, windowSeconds = 2 } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var plan = await created.ReadJsonAsync();
        var id = plan.GetProperty("id").GetInt64();
        Assert.Equal(JsonSerializer.Serialize(new { id, name, quota = new { limit = 500, period = "Day" }, rate = new { limit = 5, windowSeconds = 2 }, alertThresholds = DefaultAlertThresholds }, JsonSerializerOptions.Web), plan.GetRawText());

        var list = await (await admin.GetAsync("/api/admin/plans")).ReadJsonAsync();
        Assert.Equal(JsonValueKind.Array, list.ValueKind);
        Assert.Contains(list.EnumerateArray(), p => p.GetProperty("id").GetInt64() == id);

        // Absent members stay; null clears the rate.
        var patched = await (await admin.PatchJsonAsync($"/api/admin/plans/{id}", new { rate = (object?)null })).ReadJsonAsync();
        Assert.Equal(JsonValueKind.Null, patched.GetProperty("rate").ValueKind);
        Assert.Equal(500, patched.GetProperty("quota").GetProperty("limit").GetInt64());
        Assert.Equal(name, patched.GetProperty("name").GetString());

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/admin/plans/{id}")).StatusCode);
        await (await admin.GetAsync($"/api/admin/plans/{id}")).ProblemAsync(404);
        await (await admin.DeleteAsync($"/api/admin/plans/{id}")).ProblemAsync(404);
    }

    [Theory]
    [InlineData("{\"name\":\"\",\"quota\":{\"limit\":10,\"period\":\"Month\"}}")]
    [InlineData("{\"name\":\"x\"}")]
    [InlineData("{\"name\":\"x\",\"quota\":{\"limit\":0,\"period\":\"Month\"}}")]
    [InlineData("{\"name\":\"x\",\"quota\":{\"limit\":10,\"period\":\"Fortnight\"}}")]
    [InlineData("{\"name\":\"x\",\"quota\":{\"limit\":\"ten\",\"period\":\"Month\"}}")]
    [InlineData("{\"name\":\"x\",\"quota\":{\"limit\":10,\"period\":\"Month\"},\"rate\":{\"limit\":0,\"windowSeconds\":1}}")]
    [InlineData("{\"name\":\"x\",\"quota\":{\"limit\":10,\"period\":\"Month\"},\"rate\":{\"limit\":5,\"windowSeconds\":0}}")]
    [InlineData("{\"name\":\"x\",\"quota\":{\"limit\":10,\"period\":\"Month\"},\"rate\":{\"limit\":5,\"windowSeconds\":99999999}}")]
    [InlineData("{\"name\":\"x\",\"quota\":{\"limit\":99999999999999999999999,\"period\":\"Month\"}}")]
    [InlineData("[]")]
    public async Task Plans_BadInput_Is400AndCreatesNothing(string body)
    {
        using var admin = await _app.AdminClientAsync();
        var before = (await (await admin.GetAsync("/api/admin/plans")).ReadJsonAsync()).GetArrayLength();
        await (await admin.PostAsync("/api/admin/plans", Json.Raw(body))).ProblemAsync(400);
        Assert.Equal(before, (await (await admin.GetAsync("/api/admin/plans")).ReadJsonAsync()).GetArrayLength());
    }

    [Theory]
    [InlineData("{\"quota\":{\"limit\":-1,\"period\":\"Month\"}}")]
    [InlineData("{\"quota\":null}")]
    [InlineData("{\"name\":42}")]
    [InlineData("{\"rate\":\"fast\"}")]
    [InlineData("\"string\"")]
    public async Task Plans_BadPatch_Is400AndChangesNothing(string body)
    {
        var tenant = await _app.CreateTenantAsync(77);
        using var admin = await _app.AdminClientAsync();
        await (await admin.PatchAsync($"/api/admin/plans/{tenant.PlanId}", Json.Raw(body))).ProblemAsync(400);
        var plan = await (await admin.GetAsync($"/api/admin/plans/{tenant.PlanId}")).ReadJsonAsync();
        Assert.Equal(77, plan.GetProperty("quota").GetProperty("limit").GetInt64());
    }

    [Fact]
    public async Task Plans_InUse_CannotBeDeleted()
    {
        var tenant = await _app.CreateTenantAsync(10);
        using var admin = await _app.AdminClientAsync();
        await (await admin.DeleteAsync($"/api/admin/plans/{tenant.PlanId}")).ProblemAsync(409);
    }

    [Fact]
    public async Task Tenants_CreateGetPatchDelete()
    {
        var planTenant = await _app.CreateTenantAsync(10);
        using var admin = await _app.AdminClientAsync();
        var name = "Tenant " + Guid.NewGuid().ToString("N")[..8];
        var created = await admin.PostAsJsonAsync("/api/admin/tenants", new { name, planId = planTenant.PlanId });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var tenant = await created.ReadJsonAsync();
        var id = tenant.GetProperty("id").GetInt64();
        Assert.Equal(JsonSerializer.Serialize(new { id, name, planId = planTenant.PlanId, status = "Active", quotaOverride = (object?)null, rateOverride = (object?)null }, JsonSerializerOptions.Web), tenant.GetRawText());

        var patched = await (await admin.PatchJsonAsync($"/api/admin/tenants/{id}", new { rateOverride = new { limit = 3, windowSeconds = 60 } })).ReadJsonAsync();
        Assert.Equal(3, patched.GetProperty("rateOverride").GetProperty("limit").GetInt32());
        Assert.Equal(name, patched.GetProperty("name").GetString());

        await (await admin.PostAsJsonAsync("/api/admin/tenants", new { name, planId = planTenant.PlanId })).ProblemAsync(409);
        await (await admin.PostAsJsonAsync("/api/admin/tenants", new { name = "No plan", planId = 999_999 })).ProblemAsync(400);
        await (await admin.PatchJsonAsync($"/api/admin/tenants/{id}", new { planId = 999_999 })).ProblemAsync(400);
        await (await admin.PatchJsonAsync($"/api/admin/tenants/{id}", new { status = "Gone" })).ProblemAsync(400);

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/admin/tenants/{id}")).StatusCode);
        await (await admin.GetAsync($"/api/admin/tenants/{id}")).ProblemAsync(404);
        await (await admin.PatchJsonAsync("/api/admin/tenants/999999", new { name = "x" })).ProblemAsync(404);
    }

    [Fact]
    public async Task Keys_WholeKeyIsShownOnceAndNeverListed()
    {
        var tenant = await _app.CreateTenantAsync(10);
        using var admin = await _app.AdminClientAsync();
        var created = await admin.PostAsJsonAsync($"/api/admin/tenants/{tenant.Id}/keys", new { name = "ci", expiresAt = DateTime.UtcNow.AddDays(30) });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var key = await created.ReadJsonAsync();
        var whole = key.GetProperty("key").GetString()!;
        Assert.StartsWith(key.GetProperty("start").GetString()!, whole, StringComparison.Ordinal);

        var listText = await (await admin.GetAsync($"/api/admin/tenants/{tenant.Id}/keys")).Content.ReadAsStringAsync();
        Assert.DoesNotContain(whole, listText, StringComparison.Ordinal);
        var listed = JsonDocument.Parse(listText).RootElement.EnumerateArray().Single(k => k.GetProperty("name").GetString() == "ci");
        foreach (var member in new[] { "id", "name", "start", "createdAt", "lastUsedAt", "expiresAt", "revokedAt" })
        {
            Assert.True(listed.TryGetProperty(member, out _), member);
        }

        // Only the hash is stored.
        var stored = await _app.Database.ScalarAsync("SELECT COUNT(*) FROM api_keys WHERE hash = @h", ("@h", Tollgate.Keys.ApiKeyFormat.HashToBytes(whole)));
        Assert.Equal(1, stored);
        using var client = _app.TenantClient(whole);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/ping")).StatusCode);
    }

    [Theory]
    [InlineData("{\"expiresAt\":\"2001-01-01T00:00:00Z\"}")]
    [InlineData("{\"expiresAt\":\"tomorrow\"}")]
    [InlineData("{\"name\":5}")]
    public async Task Keys_BadInput_Is400(string body)
    {
        var tenant = await _app.CreateTenantAsync(10);
        using var admin = await _app.AdminClientAsync();
        await (await admin.PostAsync($"/api/admin/tenants/{tenant.Id}/keys", Json.Raw(body))).ProblemAsync(400);
        Assert.Equal(1, (await (await admin.GetAsync($"/api/admin/tenants/{tenant.Id}/keys")).ReadJsonAsync()).GetArrayLength());
    }

    [Fact]
    public async Task Keys_UnknownTenantOrKey_Are404()
    {
        using var admin = await _app.AdminClientAsync();
        await (await admin.GetAsync("/api/admin/tenants/999999/keys")).ProblemAsync(404);
        await (await admin.PostAsJsonAsync("/api/admin/tenants/999999/keys", new { name = "x" })).ProblemAsync(404);
        var tenant = await _app.CreateTenantAsync(10);
        await (await admin.DeleteAsync($"/api/admin/tenants/{tenant.Id}/keys/999999")).ProblemAsync(404);
    }

    [Fact]
    public async Task TenantUsers_ListsTheTenantsUsers()
    {
        var tenant = await _app.CreateTenantAsync(10);
        using (var client = _app.TenantClient(tenant.ApiKey))
        {
            await client.PostAsJsonAsync("/api/v1/users", new { username = "u1@x.com" });
        }

        using var admin = await _app.AdminClientAsync();
        var users = await (await admin.GetAsync($"/api/admin/tenants/{tenant.Id}/users")).ReadJsonAsync();
        Assert.Equal("u1@x.com", users[0].GetProperty("username").GetString());
        await (await admin.GetAsync("/api/admin/tenants/999999/users")).ProblemAsync(404);
    }

    [Fact]
    public async Task Dashboard_ShowsWarningAt80PercentAndBlockedAt100()
    {
        var tenant = await _app.CreateTenantAsync(5);
        using var client = _app.TenantClient(tenant.ApiKey);
        using var admin = await _app.AdminClientAsync();
        async Task<JsonElement> Row() => (await (await admin.GetAsync("/api/dashboard-data")).ReadJsonAsync())
            .GetProperty("tenants").EnumerateArray().Single(t => t.GetProperty("id").GetInt64() == tenant.Id);

        Assert.Equal("Normal", (await Row()).GetProperty("status").GetString());
        for (var i = 0; i < 4; i++)
        {
            await client.GetAsync("/api/v1/ping");
        }

        Assert.Equal("Warning", (await Row()).GetProperty("status").GetString());
        await client.GetAsync("/api/v1/ping");
        var row = await Row();
        Assert.Equal("Blocked", row.GetProperty("status").GetString());
        Assert.Equal(5, row.GetProperty("used").GetInt64());
        Assert.Equal(0, row.GetProperty("remaining").GetInt64());
        foreach (var member in new[] { "id", "name", "plan", "limit", "requestsLastMinute", "p95LatencyMs", "errorRate", "resetAt" })
        {
            Assert.True(row.TryGetProperty(member, out _), member);
        }

        // Live counters come from the writer, a moment later.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while ((await Row()).GetProperty("requestsLastMinute").GetInt64() < 5 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.Equal(5, (await Row()).GetProperty("requestsLastMinute").GetInt64());
    }

    [Fact]
    public async Task Stream_PushesSnapshotsAsServerSentEvents()
    {
        using var admin = await _app.AdminClientAsync();
        using var response = await admin.GetAsync("/api/admin/stream", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var data = 0;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (data < 2)
        {
            var line = await reader.ReadLineAsync(timeout.Token);
            if (line?.StartsWith("data: ", StringComparison.Ordinal) == true)
            {
                Assert.True(JsonDocument.Parse(line[6..]).RootElement.TryGetProperty("tenants", out _));
                data++;
            }
        }
    }

    [Fact]
    public async Task Changes_AreWrittenToTheAuditLog()
    {
        var tenant = await _app.CreateTenantAsync(10);
        using var admin = await _app.AdminClientAsync();
        await admin.PatchJsonAsync($"/api/admin/tenants/{tenant.Id}", new { status = "Suspended" });
        var audit = await (await admin.GetAsync("/api/admin/audit?limit=1000")).ReadJsonAsync();
        var actions = audit.EnumerateArray()
            .Where(a => a.GetProperty("tenantId").ValueKind == JsonValueKind.Number && a.GetProperty("tenantId").GetInt64() == tenant.Id)
            .Select(a => a.GetProperty("action").GetString()).ToList();
        Assert.Contains("tenant.create", actions);
        Assert.Contains("key.create", actions);
        Assert.Contains("tenant.update", actions);
        Assert.All(audit.EnumerateArray().Where(a => a.GetProperty("tenantId").ValueKind == JsonValueKind.Number && a.GetProperty("tenantId").GetInt64() == tenant.Id),
            a => Assert.Equal("admin", a.GetProperty("actor").GetString()));
        Assert.DoesNotContain(tenant.ApiKey, audit.GetRawText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TenantAdmin_SeesOnlyItsOwnTenant()
    {
        var mine = await _app.CreateTenantAsync(10);
        var other = await _app.CreateTenantAsync(10);
        await using (var scope = _app.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<TollgateDbContext>();
            var admin = new Tollgate.Data.Admin { Username = "ta-" + mine.Id, PasswordHash = "", Role = AdminRole.TenantAdmin, TenantId = mine.Id };
            admin.PasswordHash = new PasswordHasher<Tollgate.Data.Admin>().HashPassword(admin, "tenant-admin-pw");
            db.Admins.Add(admin);
            await db.SaveChangesAsync();
        }

        using var client = _app.CreateClient();
        (await client.PostAsJsonAsync("/api/auth/login", new { username = "ta-" + mine.Id, password = "tenant-admin-pw" })).EnsureSuccessStatusCode();

        var tenants = await (await client.GetAsync("/api/admin/tenants")).ReadJsonAsync();
        Assert.Equal([mine.Id], tenants.EnumerateArray().Select(t => t.GetProperty("id").GetInt64()));
        var dashboard = await (await client.GetAsync("/api/dashboard-data")).ReadJsonAsync();
        Assert.Equal([mine.Id], dashboard.GetProperty("tenants").EnumerateArray().Select(t => t.GetProperty("id").GetInt64()));

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/api/admin/tenants/{mine.Id}/keys")).StatusCode);
        await (await client.GetAsync($"/api/admin/tenants/{other.Id}")).ProblemAsync(404);
        await (await client.GetAsync($"/api/admin/tenants/{other.Id}/keys")).ProblemAsync(404);
        await (await client.GetAsync($"/api/admin/tenants/{other.Id}/users")).ProblemAsync(404);
        await (await client.DeleteAsync($"/api/admin/tenants/{other.Id}/keys/{other.KeyId}")).ProblemAsync(404);
        await (await client.PostAsJsonAsync("/api/admin/plans", new { name = "x", quota = new { limit = 1, period = "Day" } })).ProblemAsync(403);
        await (await client.PostAsJsonAsync("/api/admin/setup", new { })).ProblemAsync(403);

        using var otherClient = _app.TenantClient(other.ApiKey);
        Assert.Equal(HttpStatusCode.OK, (await otherClient.GetAsync("/api/v1/ping")).StatusCode);
    }
}
