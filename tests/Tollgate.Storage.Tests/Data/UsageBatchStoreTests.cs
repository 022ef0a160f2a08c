using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Tollgate.Data;
using Tollgate.Limits;
using Tollgate.Testing;
using Tollgate.Usage;

namespace Tollgate.Storage.Tests.Data;

/// <summary>Each provider's <see cref="IUsageBatchStore"/> against a real database.</summary>
public sealed class UsageBatchStoreTests
{
    private static readonly DateTime Minute = new(2026, 11, 29, 10, 15, 0, DateTimeKind.Utc);

    [Theory]
    [MemberData(nameof(DatabaseProviders.All), MemberType = typeof(DatabaseProviders))]
    public async Task WriteAsync_Batch_StoresRowsRollupsCountersAndLastUse(DatabaseProvider provider)
    {
        await using var app = new TollgateApp(provider);
        var tenant = await app.CreateTenantAsync(quota: 1000);
        var store = app.Services.GetRequiredService<IUsageBatchStore>();
        var batch = new UsageBatch();
        batch.Add(Event(tenant, Minute.AddSeconds(1), "GET", "/api/v1/users", 200, 40));
        batch.Add(Event(tenant, Minute.AddSeconds(2), "GET", "/api/v1/users", 200, 900));
        batch.Add(Event(tenant, Minute.AddSeconds(3.5), "GET", "/api/v1/users", 200, 30_000));
        batch.Add(Event(tenant, Minute.AddSeconds(4), "GET", "/api/v1/users", 429, 20, LimitOutcome.QuotaExceeded));
        batch.Add(Event(tenant, Minute.AddSeconds(61), "POST", "/api/v1/users", 201, 2_000));

        await store.WriteAsync(batch, CancellationToken.None);

        Assert.Equal(5, await Count(app, "usage_logs", tenant));
        Assert.Equal(4, await app.Database.ScalarAsync(
            "SELECT COUNT(*) FROM usage_logs WHERE tenant_id = @t AND outcome = 'Admitted'", ("@t", tenant.Id)));
        await AssertRollupsAsync(app, tenant, times: 1);
        Assert.Equal(4, await QuotaUsedAsync(app, tenant));
        await using (var scope = app.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<TollgateDbContext>();
            var key = await db.ApiKeys.AsNoTracking().SingleAsync(k => k.Id == tenant.KeyId);
            Assert.Equal(Minute.AddSeconds(61), key.LastUsedAt);
        }

        // The same batch again adds to every roll-up and counter instead of replacing them.
        await store.WriteAsync(batch, CancellationToken.None);

        Assert.Equal(10, await Count(app, "usage_logs", tenant));
        await AssertRollupsAsync(app, tenant, times: 2);
        Assert.Equal(8, await QuotaUsedAsync(app, tenant));
    }

    [Theory]
    [MemberData(nameof(DatabaseProviders.All), MemberType = typeof(DatabaseProviders))]
    public async Task WriteAsync_ABatchWhoseMarkIsStored_IsSkipped_SoAReplayNeverDoubles(DatabaseProvider provider)
    {
        await using var app = new TollgateApp(provider);
        var tenant = await app.CreateTenantAsync(quota: 1000);
        var store = app.Services.GetRequiredService<IUsageBatchStore>();
        var writer = Guid.NewGuid().ToString("N");
        var first = new UsageBatch { Mark = new UsageBatchMark(writer, 1) };
        first.Add(Event(tenant, Minute.AddSeconds(1), "GET", "/api/v1/users", 200, 40));
        first.Add(Event(tenant, Minute.AddSeconds(2), "GET", "/api/v1/users", 200, 50));
        var second = new UsageBatch { Mark = new UsageBatchMark(writer, 2) };
        second.Add(Event(tenant, Minute.AddSeconds(3), "GET", "/api/v1/users", 200, 60));

        await store.WriteAsync(first, CancellationToken.None);
        await store.WriteAsync(second, CancellationToken.None);
        // A commit whose answer was lost, replayed from the spool; and an older batch after a newer one.
        await store.WriteAsync(second, CancellationToken.None);
        await store.WriteAsync(first, CancellationToken.None);

        Assert.Equal(3, await Count(app, "usage_logs", tenant));
        Assert.Equal(3, await QuotaUsedAsync(app, tenant));
        Assert.Equal(3, await app.Database.ScalarAsync("SELECT SUM(count) FROM usage_rollups WHERE tenant_id = @t", ("@t", tenant.Id)));
        Assert.Equal(2, await app.Database.ScalarAsync(
            "SELECT last_sequence FROM usage_writer_marks WHERE writer_id = @w", ("@w", writer)));

        // Spooled batches replayed as one range: skipped when the range begins with what is stored, stored otherwise.
        var range = new UsageBatch { Mark = new UsageBatchMark(writer, 4, 2) };
        range.Add(Event(tenant, Minute.AddSeconds(5), "GET", "/api/v1/users", 200, 80));
        await store.WriteAsync(range, CancellationToken.None);
        Assert.True(range.AlreadyStored);
        Assert.Equal(3, await Count(app, "usage_logs", tenant));
        range.AlreadyStored = false;
        range.Mark = new UsageBatchMark(writer, 4, 3);
        await store.WriteAsync(range, CancellationToken.None);
        Assert.False(range.AlreadyStored);
        Assert.Equal(4, await Count(app, "usage_logs", tenant));
        await store.WriteAsync(range, CancellationToken.None);
        Assert.Equal(4, await Count(app, "usage_logs", tenant));

        // Another writer's batches are its own sequence.
        var other = new UsageBatch { Mark = new UsageBatchMark(Guid.NewGuid().ToString("N"), 1) };
        other.Add(Event(tenant, Minute.AddSeconds(4), "GET", "/api/v1/users", 200, 70));
        await store.WriteAsync(other, CancellationToken.None);
        Assert.Equal(5, await Count(app, "usage_logs", tenant));
    }

    [Theory]
    [MemberData(nameof(DatabaseProviders.All), MemberType = typeof(DatabaseProviders))]
    public async Task WriteAsync_TwoWritersOnTheSameBuckets_AddUpEveryEvent(DatabaseProvider provider)
    {
        const int batches = 40;
        const int eventsPerBatch = 250;
        await using var app = new TollgateApp(provider);
        var tenant = await app.CreateTenantAsync(quota: 1_000_000);
        // Two stores as two Tollgate instances would have: each with its own connections.
        var first = app.Services.GetRequiredService<IUsageBatchStore>();
        var second = (IUsageBatchStore)ActivatorUtilities.CreateInstance(app.Services, first.GetType());
        var expected = new Dictionary<(DateTime, string, int, LimitOutcome), (long Count, long Latency)>();
        var writers = new[] { first, second }.Select((store, index) => Batches(tenant, index, batches, eventsPerBatch, expected)).ToArray();

        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var running = new[] { first, second }.Select((store, index) => Task.Run(async () =>
        {
            await start.Task;
            foreach (var batch in writers[index])
            {
                await store.WriteAsync(batch, CancellationToken.None);
            }
        })).ToArray();
        start.SetResult();
        await Task.WhenAll(running);
        if (second is IAsyncDisposable disposable)
        {
            await disposable.DisposeAsync();
        }

        Assert.Equal(2 * batches * eventsPerBatch, await Count(app, "usage_logs", tenant));
        await using var scope = app.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TollgateDbContext>();
        var rollups = await db.UsageRollups.AsNoTracking().Where(r => r.TenantId == tenant.Id).ToListAsync();
        Assert.Equal(expected.Count, rollups.Count);
        foreach (var row in rollups)
        {
            var want = expected[(row.BucketStart, row.Endpoint, row.StatusCode, row.Outcome)];
            Assert.Equal(want, (row.Count, row.LatencySumMicros));
        }

        // Every tier holds every event, and each row's sketch has exactly its count: the read-merge-write of the
        // sketches lost no concurrent writer's values (a lost update leaves a sketch short of its row's count).
        var tiers = new (string Name, List<UsageRollupRow> Rows)[]
        {
            ("minute", [.. rollups]),
            ("hour", [.. await db.UsageRollupsHour.AsNoTracking().Where(r => r.TenantId == tenant.Id).ToListAsync()]),
            ("day", [.. await db.UsageRollupsDay.AsNoTracking().Where(r => r.TenantId == tenant.Id).ToListAsync()]),
        };
        foreach (var (name, rows) in tiers)
        {
            Assert.Equal(2 * batches * eventsPerBatch, rows.Sum(r => r.Count));
            Assert.All(rows, r => Assert.True(r.Count == LatencySketch.Decode(r.LatencySketch).Count,
                $"{name} {r.BucketStart:O} {r.Endpoint} {r.StatusCode}: count {r.Count}, sketch {LatencySketch.Decode(r.LatencySketch).Count}"));
        }

        var sketchTotal = new LatencySketch();
        foreach (var row in tiers[2].Rows)
        {
            sketchTotal.Merge(row.LatencySketch);
        }

        Assert.Equal(2 * batches * eventsPerBatch, sketchTotal.Count);
        var admitted = expected.Where(e => e.Key.Item4 == LimitOutcome.Admitted).Sum(e => e.Value.Count);
        Assert.Equal(admitted, await QuotaUsedAsync(app, tenant));
    }

    [Theory]
    [MemberData(nameof(DatabaseProviders.All), MemberType = typeof(DatabaseProviders))]
    public async Task Times_WrittenByStoreAndByEfCore_ReadBackAsTheSameUtcInstant(DatabaseProvider provider)
    {
        // Microsecond precision: what PostgreSQL and MySQL keep (SQLite keeps .NET's 100 ns ticks).
        var at = new DateTime(2026, 3, 29, 1, 59, 59, DateTimeKind.Utc).AddTicks(1_234_560);
        await using var app = new TollgateApp(provider);
        var tenant = await app.CreateTenantAsync(quota: 1000);
        var batch = new UsageBatch();
        batch.Add(Event(tenant, at, "GET", "/api/v1/ping", 200, 10));
        await app.Services.GetRequiredService<IUsageBatchStore>().WriteAsync(batch, CancellationToken.None);
        await using (var scope = app.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<TollgateDbContext>();
            db.AuditLog.Add(new AuditEntry { Timestamp = at, Actor = "test", Action = "time.check", Target = "none" });
            await db.SaveChangesAsync();
        }

        await using (var scope = app.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<TollgateDbContext>();
            var logged = await db.UsageLogs.AsNoTracking().SingleAsync(l => l.TenantId == tenant.Id);
            var audited = await db.AuditLog.AsNoTracking().SingleAsync(a => a.Action == "time.check");
            var key = await db.ApiKeys.AsNoTracking().SingleAsync(k => k.Id == tenant.KeyId);
            var counter = await db.QuotaCounters.AsNoTracking().SingleAsync(c => c.TenantId == tenant.Id);
            var rollup = await db.UsageRollups.AsNoTracking().SingleAsync(r => r.TenantId == tenant.Id);

            Assert.All([audited.Timestamp, key.LastUsedAt!.Value], t =>
            {
                Assert.Equal(at, t);
                Assert.Equal(DateTimeKind.Utc, t.Kind);
            });
            // The raw log keeps Unix milliseconds: the same instant, to the millisecond.
            Assert.Equal(at.AddTicks(-4_560), logged.Timestamp);
            Assert.Equal(DateTimeKind.Utc, logged.Timestamp.Kind);
            Assert.Equal(new DateTime(2026, 3, 1, 0, 0, 0, DateTimeKind.Utc), counter.PeriodStart);
            Assert.Equal(new DateTime(2026, 3, 29, 1, 59, 0, DateTimeKind.Utc), rollup.BucketStart);
            // Comparisons happen in UTC on the server too.
            Assert.Equal(1, await db.UsageLogs.CountAsync(l => l.TenantId == tenant.Id && l.Timestamp >= at));
            Assert.Equal(0, await db.UsageLogs.CountAsync(l => l.TenantId == tenant.Id && l.Timestamp > at));
        }

        Assert.Equal(1, await app.Database.ScalarAsync(
            "SELECT COUNT(*) FROM usage_logs WHERE tenant_id = @t AND timestamp = @at", ("@t", tenant.Id), ("@at", at.AddTicks(-4_560))));
    }

    private static UsageEvent Event(
        TestTenant tenant, DateTime at, string method, string endpoint, int status, long latencyMicros,
        LimitOutcome outcome = LimitOutcome.Admitted) =>
        new(tenant.Id, tenant.KeyId, at, method, endpoint, status, latencyMicros, outcome, QuotaPeriod.Month,
            QuotaPeriods.StartOf(QuotaPeriod.Month, at));

    /// <summary>
    /// Batches over two minutes and a few endpoints, so both writers hit the same roll-up rows in every batch, each in
    /// its own random order; adds what they carry to <paramref name="expected"/>.
    /// </summary>
    private static List<UsageBatch> Batches(
        TestTenant tenant, int seed, int batches, int eventsPerBatch,
        Dictionary<(DateTime, string, int, LimitOutcome), (long Count, long Latency)> expected)
    {
#pragma warning disable CA5394 // Test data, not security.
        var random = new Random(seed);
        string[] endpoints = ["/api/v1/users", "/api/v1/users/{id}", "/api/v1/ping"];
        var result = new List<UsageBatch>();
        for (var b = 0; b < batches; b++)
        {
            var batch = new UsageBatch(eventsPerBatch);
            for (var i = 0; i < eventsPerBatch; i++)
            {
                var at = Minute.AddMilliseconds(random.Next(120_000));
                var endpoint = endpoints[random.Next(endpoints.Length)];
                var (status, outcome) = random.Next(10) switch
                {
                    0 => (429, LimitOutcome.QuotaExceeded),
                    1 => (404, LimitOutcome.Admitted),
                    _ => (200, LimitOutcome.Admitted),
                };
                var latency = (long)random.Next(20, 2_000_000);
                batch.Add(Event(tenant, at, "GET", endpoint, status, latency, outcome));
                lock (expected)
                {
                    var key = (new DateTime(at.Ticks - at.Ticks % TimeSpan.TicksPerMinute, DateTimeKind.Utc), endpoint, status, outcome);
                    var (count, sum) = expected.GetValueOrDefault(key);
                    expected[key] = (count + 1, sum + latency);
                }
            }

            result.Add(batch);
        }

        return result;
#pragma warning restore CA5394
    }

    private static async Task AssertRollupsAsync(TollgateApp app, TestTenant tenant, long times)
    {
        await using var scope = app.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TollgateDbContext>();
        var rows = await db.UsageRollups.AsNoTracking()
            .Where(r => r.TenantId == tenant.Id)
            .OrderBy(r => r.BucketStart).ThenBy(r => r.StatusCode)
            .ToListAsync();
        Assert.Collection(rows,
            r => Assert.Equal((Minute, "GET", 200, LimitOutcome.Admitted, 3 * times, 30_940 * times),
                (r.BucketStart, r.Method, r.StatusCode, r.Outcome, r.Count, r.LatencySumMicros)),
            r => Assert.Equal((Minute, "GET", 429, LimitOutcome.QuotaExceeded, 1 * times, 20 * times),
                (r.BucketStart, r.Method, r.StatusCode, r.Outcome, r.Count, r.LatencySumMicros)),
            r => Assert.Equal((Minute.AddMinutes(1), "POST", 201, LimitOutcome.Admitted, 1 * times, 2_000 * times),
                (r.BucketStart, r.Method, r.StatusCode, r.Outcome, r.Count, r.LatencySumMicros)));

        // 40, 20, 900, 2,000 and 30,000 µs, each `times` times, in every tier.
        var tiers = new List<UsageRollupRow>[]
        {
            [.. rows],
            [.. await db.UsageRollupsHour.AsNoTracking().Where(r => r.TenantId == tenant.Id).ToListAsync()],
            [.. await db.UsageRollupsDay.AsNoTracking().Where(r => r.TenantId == tenant.Id).ToListAsync()],
        };
        foreach (var tier in tiers)
        {
            Assert.Equal(5 * times, tier.Sum(r => r.Count));
            var latency = new LatencySketch();
            foreach (var row in tier)
            {
                latency.Merge(row.LatencySketch);
            }

            Assert.Equal(5 * times, latency.Count);
            Assert.Equal(0.02, latency.PercentileMs(0)!.Value, 0.001);
            Assert.Equal(0.9, latency.PercentileMs(50)!.Value, 0.009);
            Assert.Equal(30, latency.PercentileMs(100)!.Value, 0.3);
        }
    }

    private static Task<long> QuotaUsedAsync(TollgateApp app, TestTenant tenant) =>
        app.Database.ScalarAsync(
            "SELECT SUM(used) FROM quota_counters WHERE tenant_id = @t AND period = 'Month'", ("@t", tenant.Id));

    private static Task<long> Count(TollgateApp app, string table, TestTenant tenant) =>
        app.Database.ScalarAsync($"SELECT COUNT(*) FROM {table} WHERE tenant_id = @t", ("@t", tenant.Id));
}
