using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Tollgate.Testing;
using Tollgate.Usage;

namespace Tollgate.Server.Tests.Usage;

/// <summary>Exact quotas under concurrency, usage that survives a restart, and a drain that loses nothing.</summary>
public sealed class DurabilityTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public async Task Quota_64ConcurrentClients3000Requests_AdmitsExactly1000_AndStoresEveryRequest()
    {
        var app = new TollgateApp();
        var tenant = await app.CreateTenantAsync(1000);
        var statuses = new System.Collections.Concurrent.ConcurrentBag<HttpStatusCode>();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var clients = Enumerable.Range(0, 64).Select(_ => app.TenantClient(tenant.ApiKey)).ToArray();
        await Parallel.ForAsync(0, 3000, new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (i, ct) =>
        {
            using var response = await clients[i % 64].GetAsync("/api/v1/ping", ct);
            statuses.Add(response.StatusCode);
        });

        output.WriteLine($"3000 requests from 64 clients in {watch.ElapsedMilliseconds} ms: {statuses.Count(s => s == HttpStatusCode.OK)} admitted");
        Assert.Equal(1000, statuses.Count(s => s == HttpStatusCode.OK));
        Assert.Equal(2000, statuses.Count(s => s == HttpStatusCode.TooManyRequests));
        foreach (var client in clients)
        {
            client.Dispose();
        }

        var path = app.Database;
        await app.DisposeAsync();
        Assert.Equal(1000, await Rows(path, tenant.Id, "Admitted"));
        Assert.Equal(2000, await Rows(path, tenant.Id, "QuotaExceeded"));
        Assert.Equal(1000, await path.ScalarAsync("SELECT SUM(used) FROM quota_counters WHERE tenant_id = @t", ("@t", tenant.Id)));
        Assert.Equal(3000, await path.ScalarAsync("SELECT SUM(count) FROM usage_rollups WHERE tenant_id = @t", ("@t", tenant.Id)));
    }

    [Fact]
    public async Task Restart_UsageOfThePeriodPersists_AndTheRequestAfterTheLimitIs429()
    {
        var first = new TollgateApp();
        var tenant = await first.CreateTenantAsync(50);
        using (var client = first.TenantClient(tenant.ApiKey))
        {
            for (var i = 0; i < 50; i++)
            {
                Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/ping")).StatusCode);
            }
        }

        await first.DisposeAsync();

        await using var second = new TollgateApp(first.Database);
        using var again = second.TenantClient(tenant.ApiKey);
        var usage = await (await again.GetAsync("/api/v1/usage")).ReadJsonAsync();
        Assert.Equal(50, usage.GetProperty("used").GetInt64());
        Assert.Equal("Blocked", usage.GetProperty("status").GetString());
        await (await again.GetAsync("/api/v1/ping")).ProblemAsync(429);
    }

    [Fact]
    public async Task Restart_PartlyUsedQuota_ContinuesFromTheStoredCount()
    {
        var first = new TollgateApp();
        var tenant = await first.CreateTenantAsync(10);
        using (var client = first.TenantClient(tenant.ApiKey))
        {
            for (var i = 0; i < 7; i++)
            {
                await client.GetAsync("/api/v1/ping");
            }
        }

        await first.DisposeAsync();
        await using var second = new TollgateApp(first.Database);
        using var again = second.TenantClient(tenant.ApiKey);
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 5; i++)
        {
            statuses.Add((await again.GetAsync("/api/v1/ping")).StatusCode);
        }

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests], statuses);
    }

    [Fact]
    public async Task GracefulStop_WritesEveryQueuedEventBeforeExiting()
    {
        // The database holds every write until the stop has begun, so that events are still queued then (a store that
        // only slowed each write by 200 ms left none queued once, when the writer took the last ones just in time).
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var app = new TollgateApp(configureServices: services =>
            services.AddSingleton<IUsageBatchStore>(sp => new GatedStore(AppDatabase.DefaultBatchStore(sp), gate.Task)));
        var tenant = await app.CreateTenantAsync(1_000_000);
        var ok = 0;
        var clients = Enumerable.Range(0, 16).Select(_ => app.TenantClient(tenant.ApiKey)).ToArray();
        await Parallel.ForAsync(0, 2000, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, ct) =>
        {
            using var response = await clients[i % 16].GetAsync("/api/v1/ping", ct);
            if (response.StatusCode == HttpStatusCode.OK)
            {
                Interlocked.Increment(ref ok);
            }
        });

        var queued = app.Services.GetRequiredService<UsageQueue>().Count;
        Assert.True(queued > 0, "The test needs events still queued at the stop.");
        var path = app.Database;
        var stopping = System.Diagnostics.Stopwatch.StartNew();
        var stop = app.DisposeAsync();
        gate.SetResult();
        await stop;
        output.WriteLine($"{ok} admitted; {queued} events queued when the stop began; stop took {stopping.ElapsedMilliseconds} ms");

        Assert.Equal(2000, ok);
        Assert.Equal(2000, await Rows(path, tenant.Id, "Admitted"));
    }

    private static Task<long> Rows(AppDatabase path, long tenantId, string outcome) =>
        path.ScalarAsync("SELECT COUNT(*) FROM usage_logs WHERE tenant_id = @t AND outcome = @o", ("@t", tenantId), ("@o", outcome));

    private sealed class GatedStore(IUsageBatchStore inner, Task open) : IUsageBatchStore
    {
        public async Task WriteAsync(UsageBatch batch, CancellationToken cancellationToken)
        {
            await open;
            await inner.WriteAsync(batch, cancellationToken);
        }
    }
}

public sealed class SynchronousDurabilityTests
{
    [Theory]
    [InlineData("Synchronous", 1)]
    [InlineData("Buffered", 0)]
    public async Task Answer_InSynchronousMode_LeavesOnlyOnceItsRowIsStored(string durability, long rowsWhenAnswered)
    {
        // A slow database (each write waits 300 ms) separates "queued" from "stored".
        await using var app = new TollgateApp(
            settings: new Dictionary<string, string?> { ["Tollgate:Usage:Durability"] = durability },
            configureServices: services => services.AddSingleton<IUsageBatchStore>(sp =>
                new DelayedStore(AppDatabase.DefaultBatchStore(sp), TimeSpan.FromMilliseconds(300))));
        var tenant = await app.CreateTenantAsync(10);
        using var client = app.TenantClient(tenant.ApiKey);

        var response = await client.GetAsync("/api/v1/ping");
        var rows = await app.Database.ScalarAsync("SELECT COUNT(*) FROM usage_logs WHERE tenant_id = @t", ("@t", tenant.Id));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(tenant.Name, (await response.ReadJsonAsync()).GetProperty("tenant").GetString());
        Assert.Equal("9", response.Headers.GetValues("X-RateLimit-Remaining").Single());
        Assert.Equal(rowsWhenAnswered, rows);
    }

    [Fact]
    public async Task Refusal_InSynchronousMode_IsStoredAndStillAProblem()
    {
        await using var app = new TollgateApp(settings: new Dictionary<string, string?> { ["Tollgate:Usage:Durability"] = "Synchronous" });
        var tenant = await app.CreateTenantAsync(1);
        using var client = app.TenantClient(tenant.ApiKey);
        await client.GetAsync("/api/v1/ping");
        await (await client.GetAsync("/api/v1/ping")).ProblemAsync(429);
        Assert.Equal(1, await app.Database.ScalarAsync(
            "SELECT COUNT(*) FROM usage_logs WHERE tenant_id = @t AND outcome = 'QuotaExceeded'", ("@t", tenant.Id)));
    }

    [Fact]
    public async Task Answer_InSynchronousMode_AfterTheWriterStopped_Is503NotAHang()
    {
        var app = new TollgateApp(settings: new Dictionary<string, string?> { ["Tollgate:Usage:Durability"] = "Synchronous" });
        try
        {
            var tenant = await app.CreateTenantAsync(10);
            using var client = app.TenantClient(tenant.ApiKey);
            // What a request sees when it outlives the server's shutdown grace period: the queue takes no more events.
            app.Services.GetRequiredService<UsageQueue>().Complete();

            // Bounded from outside: a request waiting for a commit that never comes must fail the test, not hang it.
            var response = await Task.Run(() => client.GetAsync("/api/v1/ping")).WaitAsync(TimeSpan.FromSeconds(10));

            await response.ProblemAsync(503);
            Assert.Equal("1", response.Headers.GetValues("Retry-After").Single());
        }
        finally
        {
            // A request stuck waiting for a commit would hold the host's stop forever: fail instead of hanging.
            await Task.Run(async () => await app.DisposeAsync()).WaitAsync(TimeSpan.FromSeconds(30));
        }
    }

    private sealed class DelayedStore(IUsageBatchStore inner, TimeSpan delay) : IUsageBatchStore
    {
        public async Task WriteAsync(UsageBatch batch, CancellationToken cancellationToken)
        {
            await Task.Delay(delay, cancellationToken);
            await inner.WriteAsync(batch, cancellationToken);
        }
    }
}
