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
        var settings = new Dictionary<string, string?> { ["Tollgate:Redis"] = redis.Configuration, ["Tollgate:RedisFailureMode"] = "Open" };
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

        // Both instances on the channel: A since its start, B once its retry got through.
        var watch = Stopwatch.StartNew();
        while ((await redis.CliAsync("PUBSUB", "NUMSUB", RedisChangeFeed.Channel.ToString())).Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1].Trim() != "2")
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), "the second instance did not subscribe within 20 s of Redis answering again");
            await Task.Delay(100);
        }

        output.WriteLine($"B subscribed {watch.ElapsedMilliseconds} ms after Redis answered again");
        using var onB = b.TenantClient(tenant.ApiKey);
        Assert.Equal(HttpStatusCode.OK, (await onB.GetAsync("/api/v1/ping")).StatusCode); // B has the key cached.
        using var admin = await a.AdminClientAsync();
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/admin/tenants/{tenant.Id}/keys/{tenant.KeyId}")).StatusCode);
        watch.Restart();
        while ((await onB.GetAsync("/api/v1/ping")).StatusCode != HttpStatusCode.Unauthorized)
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), "B still accepts the revoked key after 1 s");
            await Task.Delay(20);
        }
    }
}
