using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Tollgate.Limits;
using Tollgate.Testing;
using Tollgate.Usage;

namespace Tollgate.Storage.Tests.Usage;

/// <summary>
/// The raw log's size on SQLite, the embedded default: one row of <c>usage_log_entries</c> and its entry in the
/// <c>(tenant_id, time_ms)</c> index take at most 60 bytes (issue 13; the text columns took 121).
/// </summary>
public sealed class RawLogSizeTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public async Task TwoHundredThousandRows_WrittenByTheUsageWriter_TakeAtMost60BytesEach()
    {
        var path = TestDatabase.NewSqlitePath();
        await using var app = new TollgateApp(path);
        var store = app.Services.GetRequiredService<IUsageBatchStore>();
        string[] endpoints = ["/api/v1/users", "/api/v1/users/{id}", "/api/v1/ping"];
        var start = DateTime.UtcNow.AddHours(-1);
        var periodStart = new DateTime(start.Year, start.Month, 1, 0, 0, 0, DateTimeKind.Utc);
        var random = new Random(13);
        const int Rows = 200_000;
        var batch = new UsageBatch();
        for (var i = 0; i < Rows; i++)
        {
            // 1,000 tenants in turn, 3 ms apart: every batch writes near the end of every tenant's range of the index,
            // as real traffic does; latencies of a few milliseconds.
            var tenant = 1 + random.Next(1_000);
            batch.Add(new UsageEvent(
                tenant, tenant * 2, start.AddMilliseconds(i * 3), i % 10 == 9 ? "POST" : "GET", endpoints[i % 3], i % 50 == 7 ? 404 : 200,
                100 + (i * 7919 % 5_000), LimitOutcome.Admitted, QuotaPeriod.Month, periodStart));
            if (batch.Count == 10_000)
            {
                await store.WriteAsync(batch, CancellationToken.None);
                batch.Clear();
            }
        }

        await using var connection = new SqliteConnection($"Data Source={path}");
        await connection.OpenAsync();
        async Task<long> Scalar(string sql)
        {
            await using var command = connection.CreateCommand();
            command.CommandText = sql;
            return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
        }

        Assert.Equal(Rows, await Scalar("SELECT COUNT(*) FROM usage_log_entries"));
        // The pages the table and its index use (free space in them included) are the pages dropping them frees: the
        // bundled SQLite has no dbstat. The database is this test's own.
        var free = await Scalar("PRAGMA freelist_count");
        await Scalar("DROP VIEW usage_logs; DROP TABLE usage_log_entries; SELECT 0");
        var bytes = (double)(await Scalar("PRAGMA freelist_count") - free) * await Scalar("PRAGMA page_size");
        output.WriteLine($"{bytes / Rows:F1} bytes per row with its index entry");
        Assert.InRange(bytes / Rows, 20, 60);
    }
}
