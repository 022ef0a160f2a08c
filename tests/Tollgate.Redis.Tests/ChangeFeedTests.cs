using System.Diagnostics;
using System.Net;
using Tollgate.Testing;

namespace Tollgate.Redis.Tests;

/// <summary>The change feed when Redis does not answer as an instance starts.</summary>
[Collection(TwoInstances.Collection)]
public sealed class ChangeFeedTests(Xunit.Abstractions.ITestOutputHelper output)
{
    /// <summary>
    /// Redis frozen (SIGSTOP: connections open, nothing answered) while the second instance starts. Its SUBSCRIBE
    /// times out; before, that failed the host's start. It must serve, and subscribe once Redis answers again: a
    /// revocation made on the first instance then reaches it within 1 s.
    /// </summary>
    [Fact]
    public async Task RedisNotAnsweringAsAnInstanceStarts_ItServes_AndGetsChangesOnceRedisAnswers()
    {
        await using var redis = await RedisServer.StartAsync();
        var settings = new Dictionary<string, string?>
        {
            ["Tollgate:Redis"] = redis.Configuration,
            ["Tollgate:RedisFailureMode"] = "Open",
            ["Tollgate:Keys:ResyncInterval"] = "0",
        };
        await using var a = new TollgateApp(settings: settings);
        _ = a.Server;
        var tenant = await a.CreateTenantAsync(1000);
        await using var b = new TollgateApp(a.Database, settings: settings);

        await redis.PauseAsync();
        try
        {
            _ = b.Server;
            using var early = b.TenantClient(tenant.ApiKey);
            Assert.Equal(HttpStatusCode.OK, (await early.GetAsync("/healthz")).StatusCode);
        }
        finally
        {
            await redis.ResumeAsync();
        }

        // B has subscribed once a change made on A shows on B within 1 s: a plan change, retried until one does. Only the
        // change feed carries changes here (ResyncInterval 0). PUBSUB NUMSUB would not tell: it also counts a SUBSCRIBE
        // that reached Redis after B had given it up (timed out) and dropped its queue.
        using var onB = b.TenantClient(tenant.ApiKey);
        using var admin = await a.AdminClientAsync();
        var watch = Stopwatch.StartNew();
        for (var limit = 2000; ; limit++)
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), "B applied none of A's plan changes within 30 s of Redis answering again");
            await admin.PatchJsonAsync($"/api/admin/plans/{tenant.PlanId}", new { quota = new { limit, period = "Month" } });
            if (await ShowsWithinAsync(onB, limit.ToString(System.Globalization.CultureInfo.InvariantCulture), TimeSpan.FromSeconds(1)))
            {
                break;
            }
        }

        output.WriteLine($"B got A's changes {watch.ElapsedMilliseconds} ms after Redis answered again");
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/admin/tenants/{tenant.Id}/keys/{tenant.KeyId}")).StatusCode);
        watch.Restart();
        while ((await onB.GetAsync("/api/v1/ping")).StatusCode != HttpStatusCode.Unauthorized)
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), "B still accepts the revoked key after 1 s");
            await Task.Delay(20);
        }
    }

    private static async Task<bool> ShowsWithinAsync(HttpClient client, string limit, TimeSpan within)
    {
        var watch = Stopwatch.StartNew();
        do
        {
            var response = await client.GetAsync("/api/v1/ping");
            if (response.Headers.TryGetValues("X-RateLimit-Limit", out var values) && values.Single() == limit)
            {
                return true;
            }

            await Task.Delay(20);
        }
        while (watch.Elapsed < within);
        return false;
    }
}
