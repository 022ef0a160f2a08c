using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.Time.Testing;
using Tollgate.Testing;

namespace Tollgate.Server.Tests.Admin;

/// <summary>Finding 2: login is throttled per user name and per client address, before any password is hashed.</summary>
public sealed class LoginThrottleTests
{
    [Fact]
    public async Task FiveFailuresForOneName_Then429WithRetryAfter_EvenWithTheRightPassword_UntilTheWindowPasses()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var app = new TollgateApp(time: time);
        using var client = app.CreateClient();
        for (var i = 0; i < 5; i++)
        {
            await (await client.PostAsJsonAsync("/api/auth/login", new { username = "admin", password = "wrong" + i })).ProblemAsync(401);
            time.Advance(TimeSpan.FromMinutes(1));
        }

        var locked = await client.PostAsJsonAsync("/api/auth/login", new { username = "admin", password = TollgateApp.AdminPassword });
        await locked.ProblemAsync(429);
        // The first failure was 5 minutes ago: the name is free again in 10 minutes.
        Assert.Equal(TimeSpan.FromMinutes(10), locked.Headers.RetryAfter?.Delta);

        time.Advance(TimeSpan.FromMinutes(10));
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("/api/auth/login", new { username = "admin", password = TollgateApp.AdminPassword })).StatusCode);
    }

    [Fact]
    public async Task ASuccess_StartsTheCountAgain()
    {
        await using var app = new TollgateApp();
        using var client = app.CreateClient();
        for (var round = 0; round < 2; round++)
        {
            for (var i = 0; i < 4; i++)
            {
                await (await client.PostAsJsonAsync("/api/auth/login", new { username = "admin", password = "wrong" })).ProblemAsync(401);
            }

            Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("/api/auth/login", new { username = "admin", password = TollgateApp.AdminPassword })).StatusCode);
        }
    }

    [Fact]
    public async Task OneClientAddress_HasALimitOfItsOwn_AcrossUserNames()
    {
        await using var app = new TollgateApp(settings: new Dictionary<string, string?> { ["Tollgate:Admin:Login:MaxFailuresPerAddress"] = "3" });
        using var client = app.CreateClient();
        for (var i = 0; i < 3; i++)
        {
            await (await client.PostAsJsonAsync("/api/auth/login", new { username = "nobody" + i, password = "wrong" })).ProblemAsync(401);
        }

        var refused = await client.PostAsJsonAsync("/api/auth/login", new { username = "admin", password = TollgateApp.AdminPassword });
        await refused.ProblemAsync(429);
        Assert.NotNull(refused.Headers.RetryAfter);
    }

    [Fact]
    public async Task FailedAndSuccessfulLogins_AreInTheAuditLog()
    {
        await using var app = new TollgateApp();
        using var client = app.CreateClient();
        await (await client.PostAsJsonAsync("/api/auth/login", new { username = "admin", password = "wrong" })).ProblemAsync(401);
        using var admin = await app.AdminClientAsync();
        var audit = await (await admin.GetAsync("/api/admin/audit?action=login.")).ReadJsonAsync();
        var actions = audit.EnumerateArray().Select(a => a.GetProperty("action").GetString()).ToList();
        Assert.Equal(["login.success", "login.failure"], actions);
        Assert.DoesNotContain("wrong", audit.GetRawText(), StringComparison.Ordinal);
    }
}
