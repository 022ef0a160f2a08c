using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Time.Testing;
using Tollgate.Testing;

namespace Tollgate.Server.Tests.Admin;

/// <summary>Finding 1: sessions live on the server, so they can be ended.</summary>
public sealed class SessionTests(SharedApp shared) : IClassFixture<SharedApp>
{
    private readonly TollgateApp _app = shared.App;

    [Fact]
    public async Task Logout_TheOldCookieReplayedAfterwards_Is401AndCreatesNoKey()
    {
        var tenant = await _app.CreateTenantAsync(10);
        var cookie = await LoginCookieAsync("admin", TollgateApp.AdminPassword);
        using (var admin = CookieClient(cookie))
        {
            Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/api/admin/plans")).StatusCode);
            Assert.Equal(HttpStatusCode.NoContent, (await admin.PostEmptyJsonAsync("/api/auth/logout")).StatusCode);
        }

        using var replay = CookieClient(cookie);
        await (await replay.GetAsync("/api/admin/plans")).ProblemAsync(401);
        await (await replay.PostAsJsonAsync($"/api/admin/tenants/{tenant.Id}/keys", new { name = "after-logout" })).ProblemAsync(401);
    }

    [Fact]
    public async Task DeletingAnAdmin_EndsItsSessionAtOnce()
    {
        using var super = await _app.AdminClientAsync();
        var username = "gone-" + Guid.NewGuid().ToString("N")[..8];
        using var viewer = await _app.AdminClientAsync("Viewer", null, username);
        Assert.Equal(HttpStatusCode.OK, (await viewer.GetAsync("/api/admin/plans")).StatusCode);

        var id = await AdminIdAsync(super, username);
        Assert.Equal(HttpStatusCode.NoContent, (await super.DeleteAsync($"/api/admin/admins/{id}")).StatusCode);
        await (await viewer.GetAsync("/api/admin/plans")).ProblemAsync(401);
    }

    [Fact]
    public async Task ChangingAnAdminsRole_EndsItsSessionAtOnce()
    {
        using var super = await _app.AdminClientAsync();
        var tenant = await _app.CreateTenantAsync(10);
        var username = "promoted-" + Guid.NewGuid().ToString("N")[..8];
        using var viewer = await _app.AdminClientAsync("Viewer", null, username);
        var id = await AdminIdAsync(super, username);

        var patched = await super.PatchJsonAsync($"/api/admin/admins/{id}", new { role = "TenantAdmin", tenantId = tenant.Id });
        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        await (await viewer.GetAsync("/api/admin/plans")).ProblemAsync(401);
    }

    [Fact]
    public async Task ChangingOwnPassword_EndsTheOtherSessions_AndKeepsThisOne()
    {
        var username = "pw-" + Guid.NewGuid().ToString("N")[..8];
        using var first = await _app.AdminClientAsync("Viewer", null, username);
        using var second = await _app.LoginAsync(username, "a-long-enough-password");

        var changed = await first.PostAsJsonAsync("/api/auth/password", new { currentPassword = "a-long-enough-password", newPassword = "another-long-password" });
        Assert.Equal(HttpStatusCode.NoContent, changed.StatusCode);

        Assert.Equal(HttpStatusCode.OK, (await first.GetAsync("/api/auth/me")).StatusCode);
        await (await second.GetAsync("/api/auth/me")).ProblemAsync(401);
        using var client = _app.CreateClient();
        await (await client.PostAsJsonAsync("/api/auth/login", new { username, password = "a-long-enough-password" })).ProblemAsync(401);
        using var again = await _app.LoginAsync(username, "another-long-password");
    }

    [Fact]
    public async Task ChangingOwnPassword_WithTheWrongCurrentOne_Is400AndChangesNothing()
    {
        var username = "pw-" + Guid.NewGuid().ToString("N")[..8];
        using var client = await _app.AdminClientAsync("Viewer", null, username);
        await (await client.PostAsJsonAsync("/api/auth/password", new { currentPassword = "not-the-password", newPassword = "another-long-password" })).ProblemAsync(400);
        using var again = await _app.LoginAsync(username, "a-long-enough-password");
    }

    [Fact]
    public async Task ASessionWithoutRequests_EndsAfterTheIdleTimeout_AndAnyEndsAfterTheAbsoluteLifetime()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var app = new TollgateApp(time: time);
        using var idle = await app.AdminClientAsync();
        using var busy = await app.AdminClientAsync();

        time.Advance(TimeSpan.FromMinutes(119));
        Assert.Equal(HttpStatusCode.OK, (await idle.GetAsync("/api/auth/me")).StatusCode);
        time.Advance(TimeSpan.FromMinutes(121));
        await (await idle.GetAsync("/api/auth/me")).ProblemAsync(401);

        // The busy session: a request every hour keeps it alive until 12 hours after login, not longer.
        await using var late = new TollgateApp(time: time);
        using var session = await late.AdminClientAsync();
        for (var hour = 1; hour < 12; hour++)
        {
            time.Advance(TimeSpan.FromHours(1));
            Assert.Equal(HttpStatusCode.OK, (await session.GetAsync("/api/auth/me")).StatusCode);
        }

        time.Advance(TimeSpan.FromHours(1));
        await (await session.GetAsync("/api/auth/me")).ProblemAsync(401);
        _ = busy;
    }

    private HttpClient CookieClient(string cookie)
    {
        var client = _app.CreateClient(new WebApplicationFactoryClientOptions { HandleCookies = false, AllowAutoRedirect = false });
        client.DefaultRequestHeaders.Add("Cookie", "tollgate_session=" + cookie);
        return client;
    }

    private async Task<string> LoginCookieAsync(string username, string password)
    {
        using var client = _app.CreateClient(new WebApplicationFactoryClientOptions { HandleCookies = false, AllowAutoRedirect = false });
        var response = await client.PostAsJsonAsync("/api/auth/login", new { username, password });
        response.EnsureSuccessStatusCode();
        var setCookie = response.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("tollgate_session=", StringComparison.Ordinal));
        return setCookie["tollgate_session=".Length..setCookie.IndexOf(';', StringComparison.Ordinal)];
    }

    private static async Task<long> AdminIdAsync(HttpClient super, string username)
    {
        var admins = await (await super.GetAsync("/api/admin/admins")).ReadJsonAsync();
        return admins.EnumerateArray().Single(a => a.GetProperty("username").GetString() == username).GetProperty("id").GetInt64();
    }
}
