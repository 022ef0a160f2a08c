using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Tollgate.Data;
using Tollgate.Limits;
using Tollgate.Testing;
using Tollgate.Usage;

namespace Tollgate.Storage.Tests.Usage;

/// <summary>
/// The retention clean-up (CONTRACT §9) on the default provider (run on PostgreSQL and MariaDB too by ./test.sh).
/// The apps' clocks are fake and on a whole minute, so each cut-off falls exactly on a row kept.
/// </summary>
// Reads /metrics, and counts the deleted counter's measurements of its own host's meter.
[Collection(MetricsCollection.Name)]
public sealed class RetentionTests
{
    private static readonly Dictionary<string, string?> ContractDefaults = new()
    {
        // The harness keeps every row unless a test asks (TollgateApp); these are CONTRACT §9's defaults.
        ["Tollgate:Retention:UsageLogs"] = "30.00:00:00",
        ["Tollgate:Retention:MinuteRollups"] = "14.00:00:00",
        ["Tollgate:Retention:HourRollups"] = "400.00:00:00",
    };

    [Fact]
    public void Options_DefaultsAreTheContracts_AndTheDayRollupsAreNeverATarget()
    {
        var options = new RetentionOptions();
        Assert.Equal((TimeSpan.FromDays(30), TimeSpan.FromDays(14), TimeSpan.FromDays(400), TimeSpan.FromHours(1)),
            (options.UsageLogs, options.MinuteRollups, options.HourRollups, options.Interval));

        var targets = UsageRetention.Targets.ToDictionary(t => t.Table);
        Assert.Equal([UsageTables.Logs, UsageTables.Rollups, UsageTables.HourRollups], targets.Keys);
        Assert.DoesNotContain(UsageTables.DayRollups, targets.Keys);
        var distinct = new RetentionOptions
        {
            UsageLogs = TimeSpan.FromDays(1), MinuteRollups = TimeSpan.FromDays(2), HourRollups = TimeSpan.FromDays(3),
        };
        Assert.Equal(TimeSpan.FromDays(3), targets[UsageTables.HourRollups].Retention(distinct));
        Assert.Equal("bucket_start", targets[UsageTables.HourRollups].TimeColumn);
    }

    [Theory]
    [InlineData("Tollgate:Retention:UsageLogs", "00:00:00")]
    [InlineData("Tollgate:Retention:MinuteRollups", "-1.00:00:00")]
    [InlineData("Tollgate:Retention:Interval", "00:00:00")]
    public async Task Options_NotPositive_StopTheStart(string key, string value)
    {
        await using var app = new TollgateApp(settings: new Dictionary<string, string?> { [key] = value });

        var error = Assert.ThrowsAny<Exception>(() => app.CreateClient());
        Assert.Contains($"The field {key.Split(':')[^1]} must be between", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunOnce_DeletesExactlyTheRawRowsAndMinuteRollupsPastTheirRetention()
    {
        var time = WholeMinuteClock();
        var now = time.GetUtcNow().UtcDateTime;
        var logs = new ListLoggerProvider();
        await using var app = new TollgateApp(time: time, settings: ContractDefaults,
            configureServices: s => s.AddSingleton<ILoggerProvider>(logs));
        var tenant = await app.CreateTenantAsync(quota: 1_000_000);
        var logCutoff = now.AddDays(-30);
        var rollupCutoff = now.AddDays(-14);
        // In id order. Ids only roughly follow time (a replayed spool inserts old rows late, an instance's clock may run
        // ahead), so the first row here is new and a row exactly at the cut-off sits between old rows: the id range
        // deleted spans both, and only the time comparison keeps them.
        DateTime[] times =
        [
            now,
            now.AddDays(-40),
            logCutoff,                          // kept: not older than the cut-off
            logCutoff.AddSeconds(-2),
            logCutoff.AddSeconds(-1),
            rollupCutoff.AddMinutes(-1),        // raw row kept; its minute roll-up goes
            rollupCutoff,                       // both kept
            now.AddDays(-1),
        ];
        await WriteAsync(app, tenant, times);
        var usedBefore = await QuotaUsedAsync(app, tenant);

        var deleted = await Retention(app).RunOnceAsync(CancellationToken.None);

        var (rows, buckets) = await StoredAsync(app, tenant);
        Assert.Equal([now, logCutoff, rollupCutoff.AddMinutes(-1), rollupCutoff, now.AddDays(-1)], rows);
        Assert.Equal([rollupCutoff, now.AddDays(-1), now], buckets);
        Assert.Equal(3, deleted[UsageTables.Logs]);
        Assert.Equal(4, deleted[UsageTables.Rollups]);
        // Quota counters are not usage history: retention leaves them (and the day roll-ups) alone.
        Assert.Equal(usedBefore, await QuotaUsedAsync(app, tenant));
        Assert.Contains(logs.Messages, m => m.StartsWith("Retention deleted 7 expired usage rows (usage_log_entries 3, usage_rollups 4) in ", StringComparison.Ordinal));

        // A second run, or another instance's overlapping one, finds nothing more to do.
        deleted = await Retention(app).RunOnceAsync(CancellationToken.None);
        Assert.All(deleted.Values, d => Assert.Equal(0, d));
        var (rowsAgain, bucketsAgain) = await StoredAsync(app, tenant);
        Assert.Equal(rows, rowsAgain);
        Assert.Equal(buckets, bucketsAgain);
    }

    [Fact]
    public async Task RunOnce_FiftyThousandOldRows_DeletesThemAllInBatchesOfFiveThousand_AndCountsThemOnMetrics()
    {
        var time = WholeMinuteClock();
        var now = time.GetUtcNow().UtcDateTime;
        await using var app = new TollgateApp(time: time, settings: ContractDefaults);
        var tenant = await app.CreateTenantAsync(quota: 1_000_000);
        await WriteAsync(app, tenant, [.. Enumerable.Range(0, 50_000).Select(i => now.AddDays(-60).AddSeconds(i)), now.AddMinutes(-5)]);
        var batches = new ConcurrentQueue<long>();
        using var listener = DeletedListener(app, UsageTables.Logs, batches);
        var retention = Retention(app);
        retention.Pause = TimeSpan.FromMilliseconds(10);

        var deleted = await retention.RunOnceAsync(CancellationToken.None);

        Assert.Equal(50_000, deleted[UsageTables.Logs]);
        var (rows, _) = await StoredAsync(app, tenant);
        Assert.Equal([now.AddMinutes(-5)], rows);
        Assert.Equal(Enumerable.Repeat(5_000L, 10), batches);

        using var client = app.CreateClient();
        var metrics = await client.GetStringAsync("/metrics");
        Assert.Contains("tollgate_retention_deleted_total{otel_scope_name=\"Tollgate.Usage\",tollgate_retention_table=\"usage_log_entries\"} 50000", metrics, StringComparison.Ordinal);
        Assert.Contains("tollgate_retention_duration_seconds_count{otel_scope_name=\"Tollgate.Usage\"} 1", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Background_RunsAMinuteAfterStart_ThenEveryInterval()
    {
        var time = WholeMinuteClock();
        var start = time.GetUtcNow().UtcDateTime;
        // A short interval: FakeTimeProvider fires every periodic timer of the app for each period it is moved on.
        await using var app = new TollgateApp(time: time,
            settings: new Dictionary<string, string?>(ContractDefaults) { ["Tollgate:Retention:Interval"] = "00:10:00" });
        var tenant = await app.CreateTenantAsync(quota: 1_000_000);
        // The second row is 30 days old 6 minutes after start: after the first run, before the second.
        await WriteAsync(app, tenant, [start.AddDays(-31), start.AddDays(-30).AddMinutes(6), start]);

        time.Advance(TimeSpan.FromSeconds(59));
        await Task.Delay(500);
        Assert.Equal(3, (await StoredAsync(app, tenant)).Rows.Count);
        time.Advance(TimeSpan.FromSeconds(1));
        await WaitForRowsAsync(app, tenant, 2);

        time.Advance(TimeSpan.FromMinutes(10));
        await WaitForRowsAsync(app, tenant, 1);
        Assert.Equal([start], (await StoredAsync(app, tenant)).Rows);
    }

    [Fact]
    public async Task Sqlite_NewDatabase_GivesTheFreedPagesBackToTheDisk()
    {
        var time = WholeMinuteClock();
        var now = time.GetUtcNow().UtcDateTime;
        await using var app = new TollgateApp(DatabaseProvider.Sqlite, time, ContractDefaults);
        var tenant = await app.CreateTenantAsync(quota: 1_000_000);
        Assert.Equal(2, await TestDatabase.ScalarAsync(app.DatabasePath, "PRAGMA auto_vacuum")); // INCREMENTAL
        await WriteAsync(app, tenant, [.. Enumerable.Range(0, 20_000).Select(i => now.AddDays(-60).AddSeconds(i))]);
        await TestDatabase.ScalarAsync(app.DatabasePath, "PRAGMA wal_checkpoint(TRUNCATE)");
        var pagesBefore = await TestDatabase.ScalarAsync(app.DatabasePath, "PRAGMA page_count");
        var retention = Retention(app);
        retention.Pause = TimeSpan.Zero;

        await retention.RunOnceAsync(CancellationToken.None);

        Assert.Equal(0, await TestDatabase.ScalarAsync(app.DatabasePath, "PRAGMA freelist_count"));
        var pagesAfter = await TestDatabase.ScalarAsync(app.DatabasePath, "PRAGMA page_count");
        Assert.True(pagesAfter < pagesBefore / 2, $"{pagesBefore} pages before, {pagesAfter} after");
    }

    [Fact]
    public async Task Sqlite_FileMadeWithoutAutoVacuum_KeepsItsMode_AndSaysOnceHowToEnableIt()
    {
        var path = TestDatabase.NewSqlitePath();
        await AppDatabase.ForSqliteFile(path).ExecuteAsync("CREATE TABLE made_by_an_older_tollgate (id INTEGER)");
        var time = WholeMinuteClock();
        var logs = new ListLoggerProvider();
        await using var app = new TollgateApp(path, time, ContractDefaults, s => s.AddSingleton<ILoggerProvider>(logs));
        var tenant = await app.CreateTenantAsync(quota: 1_000_000);
        Assert.Equal(0, await TestDatabase.ScalarAsync(path, "PRAGMA auto_vacuum")); // NONE
        var retention = Retention(app);

        foreach (var days in new[] { 40, 35 })
        {
            await WriteAsync(app, tenant, [time.GetUtcNow().UtcDateTime.AddDays(-days)]);
            Assert.Equal(1, (await retention.RunOnceAsync(CancellationToken.None))[UsageTables.Logs]);
        }

        Assert.Single(logs.Messages, m => m.Contains("created without auto-vacuum", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RunOnce_DeletesHourRollupsPastTheirRetention_AndLeavesTheDayRollups()
    {
        var clock = DateTime.UtcNow;
        var time = new FakeTimeProvider(new DateTimeOffset(clock.Ticks - (clock.Ticks % TimeSpan.TicksPerHour), TimeSpan.Zero));
        var now = time.GetUtcNow().UtcDateTime;
        await using var app = new TollgateApp(time: time, settings: ContractDefaults);
        var tenant = await app.CreateTenantAsync(quota: 1_000_000);
        var cutoff = now.AddDays(-400);
        await WriteAsync(app, tenant, [now.AddDays(-500), cutoff.AddHours(-1), cutoff, now.AddDays(-1)]);
        Task<long> Scalar(string sql) => app.Database.ScalarAsync(sql, ("@t", tenant.Id), ("@c", cutoff));
        const string hours = "SELECT COUNT(*) FROM usage_rollups_hour WHERE tenant_id = @t";
        const string days = "SELECT COUNT(*) * 1000000 + SUM(count) FROM usage_rollups_day WHERE tenant_id = @t";
        Assert.Equal(4, await Scalar(hours));
        var daysBefore = await Scalar(days);

        var deleted = await Retention(app).RunOnceAsync(CancellationToken.None);

        Assert.Equal(2, deleted[UsageTables.HourRollups]);
        Assert.Equal(2, await Scalar(hours));
        Assert.Equal(0, await Scalar(hours + " AND bucket_start < @c"));
        Assert.Equal(daysBefore, await Scalar(days));
    }

    /// <summary>A fake clock at the current time rounded down to the minute.</summary>
    private static FakeTimeProvider WholeMinuteClock()
    {
        var now = DateTime.UtcNow;
        return new FakeTimeProvider(new DateTimeOffset(now.Ticks - (now.Ticks % TimeSpan.TicksPerMinute), TimeSpan.Zero));
    }

    private static UsageRetention Retention(TollgateApp app) => app.Services.GetRequiredService<UsageRetention>();

    /// <summary>One event at each time, in this order (so in this id order), through the app's own batch store.</summary>
    private static async Task WriteAsync(TollgateApp app, TestTenant tenant, IEnumerable<DateTime> times)
    {
        var batch = new UsageBatch();
        foreach (var at in times)
        {
            batch.Add(new UsageEvent(tenant.Id, tenant.KeyId, at, "GET", "/api/v1/users", 200, 100, LimitOutcome.Admitted,
                QuotaPeriod.Month, QuotaPeriods.StartOf(QuotaPeriod.Month, at)));
        }

        await app.Services.GetRequiredService<IUsageBatchStore>().WriteAsync(batch, CancellationToken.None);
    }

    /// <summary>The tenant's raw rows' times (in id order) and its minute roll-ups' buckets (in time order).</summary>
    private static async Task<(List<DateTime> Rows, List<DateTime> Buckets)> StoredAsync(TollgateApp app, TestTenant tenant)
    {
        await using var scope = app.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TollgateDbContext>();
        var rows = await db.UsageLogs.AsNoTracking().Where(l => l.TenantId == tenant.Id).OrderBy(l => l.Id).Select(l => l.Timestamp).ToListAsync();
        var buckets = await db.UsageRollups.AsNoTracking().Where(r => r.TenantId == tenant.Id).Select(r => r.BucketStart).ToListAsync();
        return (rows, [.. buckets.Order()]);
    }

    private static Task<long> QuotaUsedAsync(TollgateApp app, TestTenant tenant) =>
        app.Database.ScalarAsync("SELECT SUM(used) FROM quota_counters WHERE tenant_id = @t", ("@t", tenant.Id));

    private static async Task WaitForRowsAsync(TollgateApp app, TestTenant tenant, int count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((await StoredAsync(app, tenant)).Rows.Count != count)
        {
            Assert.True(DateTime.UtcNow < deadline, $"Still not {count} rows after 30 s");
            await Task.Delay(100);
        }
    }

    /// <summary>Each measurement of the deleted counter for <paramref name="table"/> on this app's meter (one per batch).</summary>
    private static MeterListener DeletedListener(TollgateApp app, string table, ConcurrentQueue<long> measurements) =>
        AppMeters.Listen(app, "tollgate.retention.deleted", (_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag is { Key: "tollgate.retention.table", Value: string t } && t == table)
                {
                    measurements.Enqueue(value);
                }
            }
        });

    /// <summary>Keeps every formatted log message of the app.</summary>
    private sealed class ListLoggerProvider : ILoggerProvider
    {
        public ConcurrentQueue<string> Messages { get; } = new();

        public ILogger CreateLogger(string categoryName) => new ListLogger(Messages);

        public void Dispose()
        {
        }

        private sealed class ListLogger(ConcurrentQueue<string> messages) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                messages.Enqueue(formatter(state, exception));
        }
    }
}
