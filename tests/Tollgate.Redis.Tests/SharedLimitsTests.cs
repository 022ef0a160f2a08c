using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;
using Tollgate.Testing;

namespace Tollgate.Redis.Tests;

/// <summary>Several instances behind a load balancer: limits, revocations and live counts shared through Redis.</summary>
[Collection(TwoInstances.Collection)]
public sealed class SharedLimitsTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public async Task Quota_3000RequestsAcrossTwoInstancesAt64Way_AdmitsExactly1000()
    {
        await using var cluster = await TwoInstances.StartAsync();
        var tenant = await cluster.A.CreateTenantAsync(1000);
        var admitted = await SendAsync(cluster, tenant, 3000);
        Assert.Equal(1000, admitted);

        foreach (var app in new[] { cluster.A, cluster.B })
        {
            using var client = app.TenantClient(tenant.ApiKey);
            var usage = await (await client.GetAsync("/api/v1/usage")).ReadJsonAsync();
            Assert.Equal(1000, usage.GetProperty("used").GetInt64());
        }
    }

    [Fact]
    public async Task Revocation_ThroughOneInstance_ReachesTheOtherWithinOneSecond()
    {
        await using var cluster = await TwoInstances.StartAsync();
        var tenant = await cluster.A.CreateTenantAsync(1000);
        using var onB = cluster.B.TenantClient(tenant.ApiKey);
        Assert.Equal(HttpStatusCode.OK, (await onB.GetAsync("/api/v1/ping")).StatusCode); // B has the key cached.

        using var admin = await cluster.A.AdminClientAsync();
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/admin/tenants/{tenant.Id}/keys/{tenant.KeyId}")).StatusCode);
        var watch = Stopwatch.StartNew();
        while ((await onB.GetAsync("/api/v1/ping")).StatusCode != HttpStatusCode.Unauthorized)
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), "B still accepts the revoked key after 1 s");
            await Task.Delay(20);
        }

        output.WriteLine($"Revocation reached the other instance in {watch.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task PlanChange_ThroughOneInstance_ReachesTheOtherWithinOneSecond()
    {
        await using var cluster = await TwoInstances.StartAsync();
        var tenant = await cluster.A.CreateTenantAsync(1000);
        using var onB = cluster.B.TenantClient(tenant.ApiKey);
        Assert.Equal("1000", (await onB.GetAsync("/api/v1/ping")).Headers.GetValues("X-RateLimit-Limit").Single());
        using var admin = await cluster.A.AdminClientAsync();
        await admin.PatchJsonAsync($"/api/admin/plans/{tenant.PlanId}", new { quota = new { limit = 7, period = "Month" } });
        var watch = Stopwatch.StartNew();
        while ((await onB.GetAsync("/api/v1/ping")).Headers.GetValues("X-RateLimit-Limit").Single() != "7")
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), "B still applies the old plan after 1 s");
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task RedisFlushed_CountsAreRebuiltFromTheDatabase_NotResetToZero()
    {
        await using var cluster = await TwoInstances.StartAsync();
        var tenant = await cluster.A.CreateTenantAsync(50);
        Assert.Equal(30, await SendAsync(cluster, tenant, 30));
        await WaitForStoredAsync(cluster.A.Database, tenant.Id, 30);

        Assert.Equal("OK", await cluster.Redis.CliAsync("FLUSHALL"));
        using var onB = cluster.B.TenantClient(tenant.ApiKey);
        var usage = await (await onB.GetAsync("/api/v1/usage")).ReadJsonAsync();
        Assert.Equal(30, usage.GetProperty("used").GetInt64());
        Assert.Equal(20, await SendAsync(cluster, tenant, 40));
    }

    [Fact]
    public async Task Rate_300RequestsAcrossTwoInstancesAt64Way_AdmitsExactlyTheRate()
    {
        await using var cluster = await TwoInstances.StartAsync();
        // A window of an hour: the test never straddles two windows.
        var tenant = await cluster.A.CreateTenantAsync(100_000, rate: new { limit = 100, windowSeconds = 3600 });
        var statuses = new ConcurrentBag<HttpStatusCode>();

        Assert.Equal(100, await SendAsync(cluster, tenant, 300, statuses));
        Assert.Equal(200, statuses.Count(s => s == HttpStatusCode.TooManyRequests));
        // The window's counter expires with it (a second after the window ends), so Redis does not fill up.
        var rateKey = (await cluster.Redis.CliAsync("KEYS", $"tg:{{t{tenant.Id}}}:r:*")).Trim();
        Assert.StartsWith($"tg:{{t{tenant.Id}}}:r:3600:", rateKey, StringComparison.Ordinal);
        var ttl = long.Parse(await cluster.Redis.CliAsync("PTTL", rateKey), CultureInfo.InvariantCulture);
        Assert.InRange(ttl, 1, 3_601_000);
        Assert.Equal("100", (await cluster.Redis.CliAsync("GET", rateKey)).Trim());

        // Refused by the rate, the 200 requests did not use quota: the shared quota counter says 100 on both.
        await WaitForStoredAsync(cluster.A.Database, tenant.Id, 100);
        foreach (var app in new[] { cluster.A, cluster.B })
        {
            using var client = app.TenantClient(tenant.ApiKey);
            var usage = await (await client.GetAsync("/api/v1/usage")).ReadJsonAsync();
            Assert.Equal(100, usage.GetProperty("used").GetInt64());
        }
    }

    [Fact]
    public async Task RedisFlushed_ThenConcurrentRequests_AreRebuiltOnceAndStayExact()
    {
        await using var cluster = await TwoInstances.StartAsync();
        var tenant = await cluster.A.CreateTenantAsync(200);
        Assert.Equal(50, await SendAsync(cluster, tenant, 50));
        await WaitForStoredAsync(cluster.A.Database, tenant.Id, 50);

        // Every request of the next burst finds the counter gone at once, on both instances.
        Assert.Equal("OK", await cluster.Redis.CliAsync("FLUSHALL"));
        Assert.Equal(150, await SendAsync(cluster, tenant, 400));
        await WaitForStoredAsync(cluster.A.Database, tenant.Id, 200);
    }

    [Fact]
    public async Task RedisDown_OpenMode_ServesWithout5xxOnLocalLimits_AndSharedExactnessResumesWhenBack()
    {
        await using var cluster = await TwoInstances.StartAsync();
        var tenant = await cluster.A.CreateTenantAsync(100_000);
        Assert.Equal(100, await SendAsync(cluster, tenant, 100));

        // Redis dies in the middle of a run: requests in flight and after it fall back, none fails.
        var statuses = new ConcurrentBag<HttpStatusCode>();
        var run = SendAsync(cluster, tenant, 300, statuses);
        while (statuses.Count < 50)
        {
            await Task.Delay(1);
        }

        await cluster.Redis.StopAsync();
        await run;
        Assert.Equal(300, statuses.Count);
        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s));
        using (var plain = cluster.A.CreateClient())
        {
            var ready = await plain.GetAsync("/readyz");
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
            Assert.Equal("Degraded", await ready.Content.ReadAsStringAsync());
            Assert.Contains("tollgate_limits_shared_degraded 1", await plain.GetStringAsync("/metrics"), StringComparison.Ordinal);
        }

        await cluster.Redis.StartAgainAsync();
        await WaitConnectedAsync(cluster.A, cluster.B);
        // Each instance adds what it admitted alone to the shared counter before it decides through Redis again (its
        // first requests after the reconnection start that catch-up and are still decided locally).
        await WaitCaughtUpAsync(cluster, tenant);
        var fresh = await cluster.A.CreateTenantAsync(100);
        Assert.Equal(100, await SendAsync(cluster, fresh, 300));
        // The tenant used during the outage: every admitted request once in the shared count.
        var stored = await cluster.A.Database.ScalarAsync("SELECT COALESCE(SUM(used), 0) FROM quota_counters WHERE tenant_id = @t", ("@t", tenant.Id));
        Assert.True(stored >= 400, $"{stored} stored");
        await WaitForStoredAsync(cluster.A.Database, tenant.Id, stored);
        using var onA = cluster.A.TenantClient(tenant.ApiKey);
        var usage = await (await onA.GetAsync("/api/v1/usage")).ReadJsonAsync();
        Assert.Equal(stored, usage.GetProperty("used").GetInt64());
    }

    [Fact]
    public async Task RedisDown_ClosedMode_MeteredRequestsAre503_AndReadyzSaysSo()
    {
        await using var cluster = await TwoInstances.StartAsync("Closed");
        var tenant = await cluster.A.CreateTenantAsync(1000);
        using var client = cluster.A.TenantClient(tenant.ApiKey);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/ping")).StatusCode);
        await cluster.Redis.StopAsync();

        var response = await client.GetAsync("/api/v1/ping");
        await response.ProblemAsync(503);
        Assert.Equal("1", response.Headers.GetValues("Retry-After").Single());
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/usage")).StatusCode);
        using var plain = cluster.A.CreateClient();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await plain.GetAsync("/readyz")).StatusCode);

        await cluster.Redis.StartAgainAsync();
        await WaitConnectedAsync(cluster.A);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/ping")).StatusCode);
    }

    [Fact]
    public async Task RedisFrozen_ClosedMode_Is503_AndTheFirstRequestAfterItAnswersAgainIsAdmitted()
    {
        // Frozen rather than stopped: the connection stays up, so the request's script batch goes unanswered and a
        // catch-up must settle it before Redis decides again. In Closed mode the next request waits for that catch-up;
        // it used to start it in the background and be refused meanwhile.
        await using var cluster = await TwoInstances.StartAsync("Closed");
        var tenant = await cluster.A.CreateTenantAsync(1000);
        using var client = cluster.A.TenantClient(tenant.ApiKey);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/ping")).StatusCode);

        await cluster.Redis.PauseAsync();
        try
        {
            await (await client.GetAsync("/api/v1/ping")).ProblemAsync(503);
        }
        finally
        {
            await cluster.Redis.ResumeAsync();
        }

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/ping")).StatusCode);
        var usage = await (await client.GetAsync("/api/v1/usage")).ReadJsonAsync();
        Assert.Equal(2, usage.GetProperty("used").GetInt64());
    }

    [Fact]
    public async Task Dashboard_OnEitherInstance_ShowsTheTrafficOfBoth()
    {
        await using var cluster = await TwoInstances.StartAsync();
        var tenant = await cluster.A.CreateTenantAsync(1000);
        using (var onA = cluster.A.TenantClient(tenant.ApiKey))
        {
            for (var i = 0; i < 6; i++)
            {
                await onA.GetAsync("/api/v1/ping");
            }
        }

        using (var onB = cluster.B.TenantClient(tenant.ApiKey))
        {
            for (var i = 0; i < 4; i++)
            {
                await onB.GetAsync("/api/v1/ping");
            }
        }

        // A session made on A opens on B: the data-protection keys are shared too.
        using var adminA = await cluster.A.AdminClientAsync();
        var cookie = (await adminA.PostAsJsonAsync("/api/auth/login", new { username = "admin", password = TollgateApp.AdminPassword }))
            .Headers.GetValues("Set-Cookie").First().Split(';')[0];
        using var adminB = cluster.B.CreateClient();
        adminB.DefaultRequestHeaders.Add("Cookie", cookie);

        var deadline = DateTime.UtcNow.AddSeconds(5);
        long lastMinute = 0, used = 0;
        while (DateTime.UtcNow < deadline)
        {
            var response = await adminB.GetAsync("/api/dashboard-data");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var row = (await response.ReadJsonAsync()).GetProperty("tenants").EnumerateArray().Single(t => t.GetProperty("id").GetInt64() == tenant.Id);
            lastMinute = row.GetProperty("requestsLastMinute").GetInt64();
            used = row.GetProperty("used").GetInt64();
            if (lastMinute == 10)
            {
                break;
            }

            await Task.Delay(100);
        }

        Assert.Equal(10, used);
        Assert.Equal(10, lastMinute);
    }

    private static async Task<int> SendAsync(TwoInstances cluster, TestTenant tenant, int count, ConcurrentBag<HttpStatusCode>? statuses = null)
    {
        var clients = Enumerable.Range(0, 64).Select(i => (i % 2 == 0 ? cluster.A : cluster.B).TenantClient(tenant.ApiKey)).ToArray();
        var admitted = 0;
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (i, ct) =>
        {
            using var response = await clients[i % 64].GetAsync("/api/v1/ping", ct);
            statuses?.Add(response.StatusCode);
            Assert.True((int)response.StatusCode < 500, $"{response.StatusCode}");
            if (response.StatusCode == HttpStatusCode.OK)
            {
                Interlocked.Increment(ref admitted);
            }
        });
        foreach (var client in clients)
        {
            client.Dispose();
        }

        return admitted;
    }

    private static async Task WaitForStoredAsync(AppDatabase databasePath, long tenantId, long expected)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        long stored;
        do
        {
            stored = await databasePath.ScalarAsync("SELECT COALESCE(SUM(used), 0) FROM quota_counters WHERE tenant_id = @t", ("@t", tenantId));
            if (stored == expected)
            {
                return;
            }

            await Task.Delay(50);
        }
        while (DateTime.UtcNow < deadline);

        Assert.Equal(expected, stored);
    }

    /// <summary>Pings the tenant on both instances until neither decides on its own counts any more.</summary>
    private static async Task WaitCaughtUpAsync(TwoInstances cluster, TestTenant tenant)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        foreach (var app in new[] { cluster.A, cluster.B })
        {
            using var client = app.TenantClient(tenant.ApiKey);
            var store = app.Services.GetRequiredService<Tollgate.Redis.RedisLimitStore>();
            do
            {
                Assert.True(DateTime.UtcNow < deadline, "an instance did not catch up with Redis within 30 s");
                await client.GetAsync("/api/v1/ping");
                await Task.Delay(50);
            }
            while (store.Degraded);
        }
    }

    private static async Task WaitConnectedAsync(params TollgateApp[] apps)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        foreach (var app in apps)
        {
            var redis = app.Services.GetRequiredService<IConnectionMultiplexer>();
            while (!redis.IsConnected)
            {
                Assert.True(DateTime.UtcNow < deadline, "Tollgate did not reconnect to Redis within 30 s");
                await Task.Delay(50);
            }
        }
    }
}
