using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Tollgate.Data;
using Tollgate.Limits;
using Tollgate.Testing;
using Tollgate.Usage;

namespace Tollgate.Storage.Tests.Usage;

public sealed class SqliteUsageBatchStoreTests
{
    [Theory]
    [InlineData("Buffered", 1)] // NORMAL: survives a process crash, fast
    [InlineData("Synchronous", 2)] // FULL: an answered request's row survives power loss too
    public async Task WriterConnection_SyncsAsTheDurabilityPromises(string durability, long expected)
    {
        await using var app = new TollgateApp(settings: new Dictionary<string, string?> { ["Tollgate:Usage:Durability"] = durability });
        var store = Assert.IsType<SqliteUsageBatchStore>(app.Services.GetRequiredService<IUsageBatchStore>());

        Assert.Equal(expected, await store.SynchronousLevelAsync());
    }

    [Fact]
    public async Task WriteAsync_TwoBatches_StoresRowsAndAddsUpRollupsCountersAndLastUse()
    {
        await using var app = new TollgateApp();
        var tenant = await app.CreateTenantAsync(quota: 1_000);
        var store = app.Services.GetRequiredService<IUsageBatchStore>();
        var periodStart = new DateTime(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc);
        var first = new DateTime(2026, 11, 29, 14, 25, 3, DateTimeKind.Utc).AddTicks(5_515_957);
        UsageEvent Event(DateTime at, int status, long latency, LimitOutcome outcome = LimitOutcome.Admitted) =>
            new(tenant.Id, tenant.KeyId, at, "GET", "/api/v1/users/{id}", status, latency, outcome, QuotaPeriod.Month, periodStart);

        var batch = new UsageBatch();
        batch.Add(Event(first, 200, 40));
        batch.Add(Event(first.AddSeconds(1), 200, 3_000));
        batch.Add(Event(first.AddSeconds(2), 429, 20, LimitOutcome.RateLimited));
        await store.WriteAsync(batch, CancellationToken.None);
        batch.Clear();
        // Older than what is stored: last use must not move back.
        batch.Add(Event(first.AddSeconds(-30), 200, 600));
        await store.WriteAsync(batch, CancellationToken.None);

        await using var scope = app.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TollgateDbContext>();
        var logs = await db.UsageLogs.AsNoTracking().OrderBy(l => l.Id).ToListAsync();
        Assert.Equal(4, logs.Count);
        // Stored to the millisecond (Unix milliseconds): the 0.5515957 s of the event are 0.551 s.
        Assert.Equal(first.AddTicks(-5_957), logs[0].Timestamp);
        var endpoint = await db.UsageEndpoints.AsNoTracking().SingleAsync(e => e.Id == logs[0].EndpointId);
        Assert.Equal(("GET", "/api/v1/users/{id}", 200, 40L, LimitOutcome.Admitted),
            (endpoint.Method, endpoint.Endpoint, logs[0].StatusCode, logs[0].LatencyMicros, logs[0].Outcome));
        Assert.Equal(LimitOutcome.RateLimited, logs[2].Outcome);
        Assert.All(logs, l => Assert.Equal(endpoint.Id, l.EndpointId));
        // Rows are found by the (tenant_id, time_ms) index the way EF Core compares times: through the same conversion.
        Assert.Equal(2, await db.UsageLogs.CountAsync(l => l.TenantId == tenant.Id && l.Timestamp > first));

        var counter = await db.QuotaCounters.AsNoTracking().SingleAsync(c => c.TenantId == tenant.Id);
        Assert.Equal((QuotaPeriod.Month, periodStart, 3L), (counter.Period, counter.PeriodStart, counter.Used));

        var rollups = await db.UsageRollups.AsNoTracking().Where(r => r.TenantId == tenant.Id).ToListAsync();
        var admitted = Assert.Single(rollups, r => r.Outcome == LimitOutcome.Admitted && r.BucketStart == new DateTime(2026, 11, 29, 14, 25, 0, DateTimeKind.Utc));
        Assert.Equal((2L, 3_040L), (admitted.Count, admitted.LatencySumMicros));
        Assert.Equal(3, rollups.Count);
        var latency = LatencySketch.Decode(admitted.LatencySketch);
        Assert.Equal(2, latency.Count);
        Assert.Equal(3.0, latency.PercentileMs(100)!.Value, 0.03);

        var key = await db.ApiKeys.AsNoTracking().SingleAsync(k => k.Id == tenant.KeyId);
        Assert.Equal(first.AddSeconds(2), key.LastUsedAt);
    }

    [Theory]
    [InlineData("All")] // 75 rows: two statements of 32 rows, then 11 one by one
    [InlineData("ErrorsAndRefusals")] // 25 rows, skipped ones between them
    public async Task WriteAsync_ManyRows_StoresEachRowWithItsOwnValuesInOrder(string policy)
    {
        await using var app = new TollgateApp(settings: new Dictionary<string, string?> { ["Tollgate:Usage:RawLogs"] = policy });
        var tenant = await app.CreateTenantAsync(quota: 1_000);
        var store = app.Services.GetRequiredService<IUsageBatchStore>();
        var periodStart = new DateTime(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc);
        var first = new DateTime(2026, 11, 29, 14, 25, 3, DateTimeKind.Utc);
        var batch = new UsageBatch();
        for (var i = 0; i < 75; i++)
        {
            batch.Add(new UsageEvent(tenant.Id, tenant.KeyId, first.AddMilliseconds(i), i % 2 == 0 ? "GET" : "POST", "/api/v1/users",
                i % 3 == 0 ? 500 : 200, 1_000 + i, LimitOutcome.Admitted, QuotaPeriod.Month, periodStart) { UpstreamLatencyMicros = 500 + i });
        }

        await store.WriteAsync(batch, CancellationToken.None);

        await using var scope = app.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TollgateDbContext>();
        var endpoints = await db.UsageEndpoints.AsNoTracking().ToDictionaryAsync(e => e.Id, e => e.Method);
        var stored = (await db.UsageLogs.AsNoTracking().OrderBy(l => l.Id).ToListAsync())
            .Select(l => (l.Timestamp, endpoints[l.EndpointId], l.StatusCode, l.LatencyMicros, l.UpstreamLatencyMicros, l.TenantId, l.ApiKeyId));
        var expected = Enumerable.Range(0, 75).Where(i => policy == "All" || i % 3 == 0)
            .Select(i => (first.AddMilliseconds(i), i % 2 == 0 ? "GET" : "POST", i % 3 == 0 ? 500 : 200, 1_000L + i, 500L + i, tenant.Id, tenant.KeyId));
        Assert.Equal(expected, stored);
    }

    [Fact]
    public async Task WriteAsync_ValuesThatRepeatFromRowToRowAndBatchToBatch_AreStoredAsGiven()
    {
        // The store binds a parameter again only when its value changed since the statement last ran (bindings outlive
        // a reset): each batch here repeats most values of the rows bound at the same places before, and changes some.
        await using var app = new TollgateApp();
        var a = await app.CreateTenantAsync(quota: 1_000);
        var b = await app.CreateTenantAsync(quota: 1_000);
        var store = app.Services.GetRequiredService<IUsageBatchStore>();
        var periodStart = new DateTime(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc);
        var first = new DateTime(2026, 11, 29, 14, 25, 3, DateTimeKind.Utc);
        var expected = new List<(long Tenant, long Key, DateTime At, int Status, long Latency, LimitOutcome Outcome)>();
        var batch = new UsageBatch();
        foreach (var (tenant, rows, status) in new[] { (a, 70, 200), (a, 70, 200), (b, 40, 200), (a, 33, 429), (b, 1, 200) })
        {
            batch.Clear();
            for (var i = 0; i < rows; i++)
            {
                var at = first.AddMilliseconds(expected.Count / 3);
                var outcome = status == 429 ? LimitOutcome.RateLimited : LimitOutcome.Admitted;
                var latency = i % 5 == 0 ? 100 : 100 + expected.Count;
                batch.Add(new UsageEvent(tenant.Id, tenant.KeyId, at, "GET", "/api/v1/ping", status, latency, outcome, QuotaPeriod.Month, periodStart));
                expected.Add((tenant.Id, tenant.KeyId, at, status, latency, outcome));
            }

            await store.WriteAsync(batch, CancellationToken.None);
        }

        await using var scope = app.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TollgateDbContext>();
        var stored = (await db.UsageLogs.AsNoTracking().OrderBy(l => l.Id).ToListAsync())
            .Select(l => (l.TenantId, l.ApiKeyId, l.Timestamp, l.StatusCode, l.LatencyMicros, l.Outcome));
        Assert.Equal(expected, stored);
    }

    [Fact]
    public async Task GracefulStop_DuringTheFlushInterval_StoresEveryAdmittedRequestWithoutWaitingForIt()
    {
        var path = TestDatabase.NewSqlitePath();
        var app = new TollgateApp(path, settings: new Dictionary<string, string?> { ["Tollgate:Usage:FlushInterval"] = "00:00:10" });
        var tenant = await app.CreateTenantAsync(quota: 1_000);
        using (var client = app.TenantClient(tenant.ApiKey))
        {
            for (var i = 0; i < 20; i++)
            {
                (await client.GetAsync("/api/v1/ping")).EnsureSuccessStatusCode();
            }
        }

        var stopping = Stopwatch.StartNew();
        await app.DisposeAsync();

        Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(5), $"The stop took {stopping.Elapsed}: it waited for the interval.");
        Assert.Equal(20, await TestDatabase.ScalarAsync(path,
            "SELECT count(*) FROM usage_logs WHERE tenant_id = $t AND outcome = 'Admitted'", ("$t", tenant.Id)));
        Assert.Equal(20, await TestDatabase.ScalarAsync(path, "SELECT used FROM quota_counters WHERE tenant_id = $t", ("$t", tenant.Id)));
    }

    [Fact]
    public async Task QuietTraffic_IsGatheredIntoFewTransactions()
    {
        // Requests 20 ms apart, twice the flush interval: without the quiet gather each would be a transaction of its own.
        await using var app = new TollgateApp();
        var tenant = await app.CreateTenantAsync(quota: 1_000);
        var batches = new ConcurrentQueue<long>();
        using var listener = BatchSizeListener(app, batches);
        using (var client = app.TenantClient(tenant.ApiKey))
        {
            var started = Stopwatch.StartNew();
            for (var i = 0; i < 30; i++)
            {
                (await client.GetAsync("/api/v1/ping")).EnsureSuccessStatusCode();
                await Task.Delay(20);
            }

            Assert.True(started.Elapsed >= TimeSpan.FromMilliseconds(600));
        }

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (batches.Sum() < 30 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        // 600+ ms of traffic in gathers of 100 ms: about 6 transactions, never 30.
        Assert.Equal(30, batches.Sum());
        Assert.True(batches.Count <= 12, $"{batches.Count} transactions for 30 quiet events: {string.Join(", ", batches)}");
    }

    [Fact]
    public async Task SteadyTraffic_IsGatheredForTheFlushInterval()
    {
        // 4,000 events a second in bursts of 20 every 5 ms: each transaction costs about the same whatever its size, so
        // the writer gathers for the flush interval (50 ms) rather than commit every few milliseconds.
        await using var app = new TollgateApp();
        var tenant = await app.CreateTenantAsync(quota: 1_000_000);
        var sink = app.Services.GetRequiredService<IUsageSink>();
        var batches = new ConcurrentQueue<long>();
        using var listener = BatchSizeListener(app, batches);
        var periodStart = new DateTime(DateTime.UtcNow.Year, DateTime.UtcNow.Month, 1, 0, 0, 0, DateTimeKind.Utc);
        var started = Stopwatch.StartNew();
        for (var i = 0; i < 100; i++)
        {
            for (var j = 0; j < 20; j++)
            {
                Assert.True(sink.TryReserve());
                Assert.True(sink.Enqueue(new UsageEvent(tenant.Id, tenant.KeyId, DateTime.UtcNow, "GET", "/api/v1/ping", 200, 100,
                    LimitOutcome.Admitted, QuotaPeriod.Month, periodStart)));
            }

            await Task.Delay(5);
        }

        var elapsed = started.Elapsed;
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (batches.Sum() < 2_000 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        // A transaction per 50 ms of traffic and the last one's; one per 10 ms would be more than twice as many.
        Assert.Equal(2_000, batches.Sum());
        var most = (int)(elapsed.TotalMilliseconds / 25) + 3;
        Assert.True(batches.Count <= most, $"{batches.Count} transactions in {elapsed.TotalMilliseconds:F0} ms (at most {most}): {string.Join(", ", batches)}");
    }

    /// <summary>The size of each stored batch that held events (a batch of only keys' last uses holds none), on this app's meter.</summary>
    private static MeterListener BatchSizeListener(TollgateApp app, ConcurrentQueue<long> sizes) =>
        AppMeters.Listen(app, "tollgate.usage.batch.size", (_, value, _, _) =>
        {
            if (value > 0)
            {
                sizes.Enqueue(value);
            }
        });
}
