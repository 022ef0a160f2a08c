using System.Net;
using System.Net.Http.Json;
using Tollgate.Testing;

namespace Tollgate.Server.Tests.Metering;

public sealed class MeteringTests(SharedApp shared) : IClassFixture<SharedApp>
{
    private readonly TollgateApp _app = shared.App;

    public static TheoryData<string?> BadKeys => new()
    {
        null,
        "",
        "nonsense",
        "tg_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "tg_" + new string('x', 10_000),
        "Bearer tg_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "tg_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA%%",
    };

    [Theory]
    [MemberData(nameof(BadKeys))]
    public async Task MissingOrInvalidKey_Is401Problem_AndNothingIsCounted(string? key)
    {
        var tenant = await _app.CreateTenantAsync(1000);
        using var client = _app.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/users");
        if (key is not null)
        {
            request.Headers.TryAddWithoutValidation("X-API-KEY", key);
        }

        var problem = await (await client.SendAsync(request)).ProblemAsync(401);
        Assert.Equal("Unauthorized", problem.GetProperty("title").GetString());
        await AssertUsedAsync(tenant, 0);
    }

    [Fact]
    public async Task TwoKeyHeaders_Are401()
    {
        var tenant = await _app.CreateTenantAsync(1000);
        using var client = _app.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/ping");
        request.Headers.TryAddWithoutValidation("X-API-KEY", new[] { tenant.ApiKey, tenant.ApiKey });
        await (await client.SendAsync(request)).ProblemAsync(401);
        await AssertUsedAsync(tenant, 0);
    }

    [Fact]
    public async Task MeteredAnswer_CarriesTheRateLimitHeaders()
    {
        var tenant = await _app.CreateTenantAsync(1000, "Month", new { limit = 50, windowSeconds = 1 });
        using var client = _app.TenantClient(tenant.ApiKey);
        var response = await client.GetAsync("/api/v1/ping");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var policy = Header(response, "RateLimit-Policy");
        Assert.Matches("^\"quota\";q=1000;w=(2419200|2505600|2592000|2678400), \"rate\";q=50;w=1$", policy);
        Assert.Matches("^\"(quota|rate)\";r=\\d+;t=\\d+$", Header(response, "RateLimit"));
        Assert.Equal("1000", Header(response, "X-RateLimit-Limit"));
        Assert.Equal("999", Header(response, "X-RateLimit-Remaining"));
        var reset = DateTimeOffset.FromUnixTimeSeconds(long.Parse(Header(response, "X-RateLimit-Reset"), System.Globalization.CultureInfo.InvariantCulture));
        var now = DateTimeOffset.UtcNow;
        Assert.Equal(new DateTimeOffset(now.Year, now.Month, 1, 0, 0, 0, TimeSpan.Zero).AddMonths(1), reset);
        Assert.False(response.Headers.Contains("Retry-After"));
    }

    [Fact]
    public async Task QuotaUsedUp_Is429PlanLimitExceeded_WithRetryAfterAndMembers()
    {
        var tenant = await _app.CreateTenantAsync(3, "Day");
        using var client = _app.TenantClient(tenant.ApiKey);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/ping")).StatusCode);
        }

        var response = await client.GetAsync("/api/v1/users");
        var problem = await response.ProblemAsync(429);
        Assert.Equal("Plan Limit Exceeded", problem.GetProperty("title").GetString());
        var tomorrow = DateTime.UtcNow.Date.AddDays(1);
        Assert.Equal($"Usage: 3/3 requests this day. Blocked until {tomorrow:yyyy-MM-dd}T00:00:00Z.", problem.GetProperty("detail").GetString());
        Assert.Equal(3, problem.GetProperty("limit").GetInt64());
        Assert.Equal(3, problem.GetProperty("used").GetInt64());
        Assert.Equal(tomorrow, problem.GetProperty("resetAt").GetDateTime().ToUniversalTime());
        var retryAfter = long.Parse(Header(response, "Retry-After"), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(retryAfter, 1, 86_400);
        Assert.Equal("0", Header(response, "X-RateLimit-Remaining"));
        Assert.StartsWith("\"quota\";r=0;t=", Header(response, "RateLimit"), StringComparison.Ordinal);
        await AssertUsedAsync(tenant, 3);
    }

    [Fact]
    public async Task RateExceeded_Is429RateLimitExceeded_WithRetryAfter()
    {
        var tenant = await _app.CreateTenantAsync(1000, "Month", new { limit = 2, windowSeconds = 3600 });
        using var client = _app.TenantClient(tenant.ApiKey);
        await client.GetAsync("/api/v1/ping");
        await client.GetAsync("/api/v1/ping");
        var response = await client.GetAsync("/api/v1/ping");
        var problem = await response.ProblemAsync(429);
        Assert.Equal("Rate Limit Exceeded", problem.GetProperty("title").GetString());
        Assert.InRange(long.Parse(Header(response, "Retry-After"), System.Globalization.CultureInfo.InvariantCulture), 1, 3600);
        Assert.StartsWith("\"rate\";r=0;t=", Header(response, "RateLimit"), StringComparison.Ordinal);
        await AssertUsedAsync(tenant, 2);
    }

    [Fact]
    public async Task UsageRoute_IsNeverCountedNorBlocked()
    {
        var tenant = await _app.CreateTenantAsync(1);
        using var client = _app.TenantClient(tenant.ApiKey);
        await client.GetAsync("/api/v1/ping");
        for (var i = 0; i < 5; i++)
        {
            var response = await client.GetAsync("/api/v1/usage");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.False(response.Headers.Contains("RateLimit"));
        }

        var usage = await (await client.GetAsync("/api/v1/usage")).ReadJsonAsync();
        Assert.Equal(tenant.Name, usage.GetProperty("tenant").GetString());
        Assert.Equal(1, usage.GetProperty("used").GetInt64());
        Assert.Equal(1, usage.GetProperty("limit").GetInt64());
        Assert.Equal(0, usage.GetProperty("remaining").GetInt64());
        Assert.Equal("Month", usage.GetProperty("period").GetString());
        Assert.Equal("Blocked", usage.GetProperty("status").GetString());
        Assert.True(usage.TryGetProperty("resetAt", out _));
        Assert.True(usage.TryGetProperty("plan", out _));
    }

    [Fact]
    public async Task RevokedKey_Is401AtOnce()
    {
        var tenant = await _app.CreateTenantAsync(1000);
        using var client = _app.TenantClient(tenant.ApiKey);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/ping")).StatusCode);
        using var admin = await _app.AdminClientAsync();
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/admin/tenants/{tenant.Id}/keys/{tenant.KeyId}")).StatusCode);
        var problem = await (await client.GetAsync("/api/v1/ping")).ProblemAsync(401);
        Assert.Contains("revoked", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SuspendedTenant_Is403_AndActiveAgainAfterwards()
    {
        var tenant = await _app.CreateTenantAsync(1000);
        using var client = _app.TenantClient(tenant.ApiKey);
        using var admin = await _app.AdminClientAsync();
        Assert.Equal(HttpStatusCode.OK, (await admin.PatchJsonAsync($"/api/admin/tenants/{tenant.Id}", new { status = "Suspended" })).StatusCode);
        await (await client.GetAsync("/api/v1/ping")).ProblemAsync(403);
        await AssertUsedAsync(tenant, 0);
        await admin.PatchJsonAsync($"/api/admin/tenants/{tenant.Id}", new { status = "Active" });
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/ping")).StatusCode);
    }

    [Fact]
    public async Task DeletedTenant_KeysAre401()
    {
        var tenant = await _app.CreateTenantAsync(1000);
        using var client = _app.TenantClient(tenant.ApiKey);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/ping")).StatusCode);
        using var admin = await _app.AdminClientAsync();
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/admin/tenants/{tenant.Id}")).StatusCode);
        await (await client.GetAsync("/api/v1/ping")).ProblemAsync(401);
    }

    [Fact]
    public async Task PlanChange_AppliesToTheNextRequest()
    {
        var tenant = await _app.CreateTenantAsync(2);
        using var client = _app.TenantClient(tenant.ApiKey);
        await client.GetAsync("/api/v1/ping");
        await client.GetAsync("/api/v1/ping");
        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.GetAsync("/api/v1/ping")).StatusCode);
        using var admin = await _app.AdminClientAsync();
        var patched = await admin.PatchJsonAsync($"/api/admin/plans/{tenant.PlanId}", new { quota = new { limit = 5, period = "Month" } });
        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/ping")).StatusCode);
        Assert.Equal("5", Header(await client.GetAsync("/api/v1/ping"), "X-RateLimit-Limit"));
    }

    [Fact]
    public async Task TenantOverride_ReplacesThePlanQuota()
    {
        var tenant = await _app.CreateTenantAsync(1000);
        using var admin = await _app.AdminClientAsync();
        await admin.PatchJsonAsync($"/api/admin/tenants/{tenant.Id}", new { quotaOverride = new { limit = 1, period = "Hour" } });
        using var client = _app.TenantClient(tenant.ApiKey);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/ping")).StatusCode);
        var refused = await (await client.GetAsync("/api/v1/ping")).ProblemAsync(429);
        Assert.Contains("this hour", refused.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    private async Task AssertUsedAsync(TestTenant tenant, long expected)
    {
        using var admin = await _app.AdminClientAsync();
        var dashboard = await (await admin.GetAsync("/api/dashboard-data")).ReadJsonAsync();
        var row = dashboard.GetProperty("tenants").EnumerateArray().Single(t => t.GetProperty("id").GetInt64() == tenant.Id);
        Assert.Equal(expected, row.GetProperty("used").GetInt64());
    }

    private static string Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : throw new Xunit.Sdk.XunitException($"No {name} header.");
}
