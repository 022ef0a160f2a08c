using System.Net;
using System.Net.Http.Json;
using Tollgate.Testing;

namespace Tollgate.Server.Tests.Admin;

/// <summary>The probe's findings 4 to 8: racing creates, CSRF, a quota without a period, proxies and TLS, names, caching.</summary>
public sealed class ProbeFindingsTests(SharedApp shared) : IClassFixture<SharedApp>
{
    private readonly TollgateApp _app = shared.App;

    [Fact]
    public async Task ConcurrentCreatesOfOneTenantName_AnswerOne201AndOtherwise409_NeverA500()
    {
        var plan = await _app.CreateTenantAsync(10);
        using var admin = await _app.AdminClientAsync();
        var name = "Race " + Guid.NewGuid().ToString("N")[..8];
        var answers = await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => admin.PostAsJsonAsync("/api/admin/tenants", new { name, planId = plan.PlanId })));
        AssertOneCreatedRestConflict(answers);
    }

    [Fact]
    public async Task ConcurrentCreatesOfOnePlanName_AnswerOne201AndOtherwise409()
    {
        using var admin = await _app.AdminClientAsync();
        var name = "Race " + Guid.NewGuid().ToString("N")[..8];
        var answers = await Task.WhenAll(Enumerable.Range(0, 12).Select(_ =>
            admin.PostAsJsonAsync("/api/admin/plans", new { name, quota = new { limit = 10, period = "Day" } })));
        AssertOneCreatedRestConflict(answers);
    }

    [Fact]
    public async Task ConcurrentCreatesOfOneUser_AnswerOne201AndOtherwise409()
    {
        var tenant = await _app.CreateTenantAsync(1000);
        using var client = _app.TenantClient(tenant.ApiKey);
        var answers = await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => client.PostAsJsonAsync("/api/v1/users", new { username = "same@example.com" })));
        AssertOneCreatedRestConflict(answers);
    }

    [Theory]
    [InlineData("http://localhost:5001", null)]
    [InlineData("null", null)]
    [InlineData(null, "cross-site")]
    public async Task AStateChangingRequestFromAnotherOrigin_Is403AndChangesNothing(string? origin, string? fetchSite)
    {
        var tenant = await _app.CreateTenantAsync(10);
        using var admin = await _app.AdminClientAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/admin/tenants/{tenant.Id}/keys") { Content = JsonContent.Create(new { name = "csrf" }) };
        if (origin is not null)
        {
            request.Headers.Add("Origin", origin);
        }

        if (fetchSite is not null)
        {
            request.Headers.Add("Sec-Fetch-Site", fetchSite);
        }

        await (await admin.SendAsync(request)).ProblemAsync(403);
        var keys = await (await admin.GetAsync($"/api/admin/tenants/{tenant.Id}/keys")).ReadJsonAsync();
        Assert.Equal(1, keys.GetArrayLength());
    }

    [Fact]
    public async Task AStateChangingRequestFromThisOrigin_IsServed()
    {
        var tenant = await _app.CreateTenantAsync(10);
        using var admin = await _app.AdminClientAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/admin/tenants/{tenant.Id}/keys") { Content = JsonContent.Create(new { name = "same" }) };
        request.Headers.Add("Origin", "http://localhost");
        request.Headers.Add("Sec-Fetch-Site", "same-origin");
        Assert.Equal(HttpStatusCode.Created, (await admin.SendAsync(request)).StatusCode);
    }

    [Fact]
    public async Task APostWithoutAJsonContentType_Is415_EvenWithNoBody()
    {
        var tenant = await _app.CreateTenantAsync(10);
        using var admin = await _app.AdminClientAsync();
        await (await admin.PostAsync($"/api/admin/tenants/{tenant.Id}/keys", null)).ProblemAsync(415);
        await (await admin.PostAsync($"/api/admin/tenants/{tenant.Id}/keys", new StringContent("name=x", System.Text.Encoding.UTF8, "text/plain"))).ProblemAsync(415);
        await (await admin.PostAsync("/api/admin/setup", new FormUrlEncodedContent([]))).ProblemAsync(415);
        var keys = await (await admin.GetAsync($"/api/admin/tenants/{tenant.Id}/keys")).ReadJsonAsync();
        Assert.Equal(1, keys.GetArrayLength());
    }

    [Fact]
    public async Task AQuotaWithoutAPeriod_Is400_AndThePlanKeepsItsPeriod()
    {
        using var admin = await _app.AdminClientAsync();
        var created = await (await admin.PostAsJsonAsync("/api/admin/plans", new { name = "Monthly " + Guid.NewGuid().ToString("N")[..8], quota = new { limit = 1000, period = "Month" } })).ReadJsonAsync();
        var id = created.GetProperty("id").GetInt64();

        await (await admin.PatchJsonAsync($"/api/admin/plans/{id}", new { quota = new { limit = 1_000_000 } })).ProblemAsync(400);
        await (await admin.PostAsJsonAsync("/api/admin/plans", new { name = "No period", quota = new { limit = 5 } })).ProblemAsync(400);

        var plan = await (await admin.GetAsync($"/api/admin/plans/{id}")).ReadJsonAsync();
        Assert.Equal(1000, plan.GetProperty("quota").GetProperty("limit").GetInt64());
        Assert.Equal("Month", plan.GetProperty("quota").GetProperty("period").GetString());
    }

    [Theory]
    [InlineData("\u200B")]
    [InlineData("\u200B\u200C\u2060")]
    [InlineData("a\0b")]
    [InlineData("evil\u202Etxt.exe")]
    [InlineData("line\nbreak")]
    [InlineData("\uFEFF")]
    public async Task NamesWithControlOrInvisibleCharacters_Are400(string name)
    {
        var plan = await _app.CreateTenantAsync(10);
        using var admin = await _app.AdminClientAsync();
        await (await admin.PostAsJsonAsync("/api/admin/tenants", new { name, planId = plan.PlanId })).ProblemAsync(400);
        await (await admin.PostAsJsonAsync("/api/admin/plans", new { name, quota = new { limit = 1, period = "Day" } })).ProblemAsync(400);
        await (await admin.PostAsJsonAsync($"/api/admin/tenants/{plan.Id}/keys", new { name })).ProblemAsync(400);
    }

    [Theory]
    [InlineData("Zürich Öl GmbH")]
    [InlineData("東京 株式会社")]
    [InlineData("Café 🚀")]
    public async Task NamesInAnyScript_AreAccepted(string name)
    {
        var plan = await _app.CreateTenantAsync(10);
        using var admin = await _app.AdminClientAsync();
        Assert.Equal(HttpStatusCode.Created, (await admin.PostAsJsonAsync("/api/admin/tenants", new { name = name + " " + Guid.NewGuid().ToString("N")[..6], planId = plan.PlanId })).StatusCode);
    }

    [Fact]
    public async Task AdminJson_IsNeverStored_IncludingTheAnswerThatCarriesANewKey()
    {
        var tenant = await _app.CreateTenantAsync(10);
        using var admin = await _app.AdminClientAsync();
        var created = await admin.PostAsJsonAsync($"/api/admin/tenants/{tenant.Id}/keys", new { name = "cached?" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.True(created.Headers.CacheControl?.NoStore);
        Assert.True((await admin.GetAsync("/api/admin/tenants")).Headers.CacheControl?.NoStore);
        Assert.True((await admin.GetAsync("/api/dashboard-data")).Headers.CacheControl?.NoStore);
        Assert.True((await admin.GetAsync("/api/auth/me")).Headers.CacheControl?.NoStore);
    }

    [Fact]
    public async Task BehindATlsProxy_WithForwardedHeadersEnabled_TheSessionCookieIsSecure_AndHstsIsSent()
    {
        await using var app = new TollgateApp(settings: new Dictionary<string, string?> { ["FORWARDEDHEADERS_ENABLED"] = "true" });
        using var client = app.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/auth/login")
        {
            Content = JsonContent.Create(new { username = "admin", password = TollgateApp.AdminPassword }),
        };
        request.Headers.Host = "tollgate.example";
        request.Headers.Add("X-Forwarded-Proto", "https");
        request.Headers.Add("X-Forwarded-For", "203.0.113.7");
        var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var cookie = response.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("tollgate_session=", StringComparison.Ordinal));
        Assert.Contains("secure", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.True(response.Headers.Contains("Strict-Transport-Security"));
    }

    [Fact]
    public async Task OverPlainHttp_TheSessionCookieIsNotSecure_SoLocalUseStillWorks()
    {
        using var client = _app.CreateClient();
        var response = await client.PostAsJsonAsync("/api/auth/login", new { username = "admin", password = TollgateApp.AdminPassword });
        var cookie = response.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("tollgate_session=", StringComparison.Ordinal));
        Assert.DoesNotContain("secure", cookie, StringComparison.OrdinalIgnoreCase);
    }

    private static void AssertOneCreatedRestConflict(HttpResponseMessage[] answers)
    {
        var codes = answers.Select(a => (int)a.StatusCode).ToList();
        Assert.Equal(1, codes.Count(c => c == 201));
        Assert.All(codes.Where(c => c != 201), c => Assert.Equal(409, c));
        Assert.All(answers.Where(a => a.StatusCode == HttpStatusCode.Conflict),
            a => Assert.Equal("application/problem+json", a.Content.Headers.ContentType?.MediaType));
    }
}
