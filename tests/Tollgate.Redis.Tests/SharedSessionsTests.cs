using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Mvc.Testing;
using Tollgate.Testing;

namespace Tollgate.Redis.Tests;

/// <summary>Admin sessions are shared by every instance: a logout on one ends the session on all.</summary>
public sealed class SharedSessionsTests
{
    [Fact]
    public async Task ASessionStartedOnOneInstance_WorksOnTheOther_AndALogoutThereEndsItOnBoth()
    {
        await using var cluster = await TwoInstances.StartAsync();
        string cookie;
        using (var login = cluster.A.CreateClient(new WebApplicationFactoryClientOptions { HandleCookies = false }))
        {
            var response = await login.PostAsJsonAsync("/api/auth/login", new { username = "admin", password = TollgateApp.AdminPassword });
            response.EnsureSuccessStatusCode();
            var setCookie = response.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("tollgate_session=", StringComparison.Ordinal));
            cookie = setCookie[..setCookie.IndexOf(';', StringComparison.Ordinal)];
        }

        using var onA = WithCookie(cluster.A, cookie);
        using var onB = WithCookie(cluster.B, cookie);
        Assert.Equal(HttpStatusCode.OK, (await onB.GetAsync("/api/auth/me")).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await onA.PostEmptyJsonAsync("/api/auth/logout")).StatusCode);
        await (await onB.GetAsync("/api/auth/me")).ProblemAsync(401);
        await (await onA.GetAsync("/api/auth/me")).ProblemAsync(401);
    }

    private static HttpClient WithCookie(TollgateApp app, string cookie)
    {
        var client = app.CreateClient(new WebApplicationFactoryClientOptions { HandleCookies = false, AllowAutoRedirect = false });
        client.DefaultRequestHeaders.Add("Cookie", cookie);
        return client;
    }
}
