using System.Net;
using System.Net.Http.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.Extensions.DependencyInjection;
using Tollgate.Data;
using Tollgate.Testing;

namespace Tollgate.Storage.Tests.Data;

public sealed class MigrationTests
{
    private static readonly string[] Tables =
        ["plans", "tenants", "api_keys", "users", "usage_logs", "usage_log_entries", "usage_endpoints", "usage_rollups", "quota_counters", "admins", "audit_log"];

    [Theory]
    [MemberData(nameof(DatabaseProviders.All), MemberType = typeof(DatabaseProviders))]
    public async Task Start_OnEmptyDatabase_AppliesEveryMigrationAndLeavesNothingPending(DatabaseProvider provider)
    {
        await using var app = new TollgateApp(provider);
        using var client = app.CreateClient();

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/readyz")).StatusCode);
        foreach (var table in Tables)
        {
            // Throws if the table is missing; the super admin is the one row a new database has.
            var rows = await app.Database.ScalarAsync($"SELECT COUNT(*) FROM {table}");
            Assert.Equal(table == "admins" ? 1 : 0, rows);
        }

        await using var scope = app.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TollgateDbContext>();
        Assert.Empty(await db.Database.GetPendingMigrationsAsync());
        Assert.Equal(db.Database.GetMigrations(), await db.Database.GetAppliedMigrationsAsync());
        Assert.False(db.Database.HasPendingModelChanges(), $"The {provider} model differs from its migrations: add a migration.");
    }

    [Theory]
    [MemberData(nameof(DatabaseProviders.All), MemberType = typeof(DatabaseProviders))]
    public async Task Start_SecondTimeOnSameDatabase_AppliesNothingAndKeepsData(DatabaseProvider provider)
    {
        AppDatabase database;
        await using (var first = new TollgateApp(provider))
        {
            await first.CreateTenantAsync(quota: 10, name: "Kept");
            database = first.Database;
        }

        await using var second = new TollgateApp(database);
        using var admin = await second.AdminClientAsync();
        var tenants = await admin.GetFromJsonAsync<List<NameDto>>("/api/admin/tenants");
        Assert.Contains(tenants!, t => t.Name == "Kept");
        Assert.Equal(1, await second.Database.ScalarAsync("SELECT COUNT(*) FROM admins"));
    }

    [Fact]
    public async Task Start_OnMySql_MakesEveryTextColumnCompareByteForByte()
    {
        // The test server's default is the case-insensitive utf8mb4_general_ci, as on most installs.
        await using var app = new TollgateApp(DatabaseProvider.MySql);
        using var client = app.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/readyz")).StatusCode);

        const string columns =
            "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = DATABASE() " +
            "AND table_name <> '__EFMigrationsHistory' AND collation_name IS NOT NULL";
        Assert.Equal(0, await app.Database.ScalarAsync(columns + " AND collation_name <> @collation", ("@collation", MySqlTollgateDbContext.Collation)));
        Assert.True(await app.Database.ScalarAsync(columns) > 10);
    }

    [Fact]
    public async Task Start_OnPostgres_StoresEveryTimeAsTimestampWithTimeZone()
    {
        await using var app = new TollgateApp(DatabaseProvider.Postgres);
        using var client = app.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/readyz")).StatusCode);

        const string times = "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = 'public' AND data_type LIKE 'timestamp%'";
        Assert.Equal(0, await app.Database.ScalarAsync(times + " AND data_type <> 'timestamp with time zone'"));
        Assert.True(await app.Database.ScalarAsync(times) >= 10);
    }

    [Fact]
    public void Migrations_DescribeTheSameTablesOnEveryProvider()
    {
        // Built from each context's design-time factory and its migrations' snapshot, so no server is needed.
        var sqlite = Describe(new SqliteDesignTimeFactory().CreateDbContext([]));
        var postgres = Describe(new PostgresDesignTimeFactory().CreateDbContext([]));
        var mySql = Describe(new MySqlDesignTimeFactory().CreateDbContext([]));

        Assert.Equal(sqlite, postgres);
        Assert.Equal(sqlite, mySql);
    }

    [Theory]
    [MemberData(nameof(DatabaseProviders.All), MemberType = typeof(DatabaseProviders))]
    public async Task LeanUsageLogs_MovesTheStoredRowsOver_AndTheUsageLogsViewReadsThemAsBefore(DatabaseProvider provider)
    {
        await using var app = new TollgateApp(provider);
        using (var client = app.CreateClient())
        {
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/readyz")).StatusCode);
        }

        await using var scope = app.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TollgateDbContext>();
        var migrations = db.Database.GetMigrations().ToList();
        var lean = migrations.FindIndex(m => m.EndsWith("_LeanUsageLogs", StringComparison.Ordinal));
        var migrator = db.GetService<Microsoft.EntityFrameworkCore.Migrations.IMigrator>();
        // Back to the text columns (the migration's Down), rows stored the old way, then up again.
        await migrator.MigrateAsync(migrations[lean - 1]);
        var at = new DateTime(2026, 11, 29, 14, 25, 3, DateTimeKind.Utc).AddTicks(5_515_957);
        await app.Database.ExecuteAsync(
            "INSERT INTO usage_logs (tenant_id, api_key_id, timestamp, method, endpoint, status_code, latency_micros, outcome, upstream_latency_micros) VALUES " +
            "(7, 9, @a, 'GET', '/api/v1/users/{id}', 200, 1234, 'Admitted', 0), " +
            "(7, 9, @b, 'POST', '/api/v1/users', 429, 56, 'RateLimited', 0), " +
            "(8, 10, @b, 'GET', '/api/v1/users/{id}', 200, 78, 'QuotaExceeded', 5)",
            ("@a", at), ("@b", at.AddDays(1)));
        await migrator.MigrateAsync();

        var rows = await db.UsageLogs.AsNoTracking().OrderBy(l => l.Id).ToListAsync();
        var endpoints = await db.UsageEndpoints.AsNoTracking().ToDictionaryAsync(e => e.Id, e => $"{e.Method} {e.Endpoint}");
        Assert.Equal(
            [
                (7L, 9L, at.AddTicks(-5_957), "GET /api/v1/users/{id}", 200, 1234L, LimitOutcome.Admitted, 0L),
                (7L, 9L, at.AddTicks(-5_957).AddDays(1), "POST /api/v1/users", 429, 56L, LimitOutcome.RateLimited, 0L),
                (8L, 10L, at.AddTicks(-5_957).AddDays(1), "GET /api/v1/users/{id}", 200, 78L, LimitOutcome.QuotaExceeded, 5L),
            ],
            rows.Select(r => (r.TenantId, r.ApiKeyId, r.Timestamp, endpoints[r.EndpointId], r.StatusCode, r.LatencyMicros, r.Outcome, r.UpstreamLatencyMicros)));
        Assert.Equal(2, endpoints.Count);
        Assert.Equal(1, await app.Database.ScalarAsync(
            "SELECT COUNT(*) FROM usage_logs WHERE tenant_id = 7 AND method = 'POST' AND endpoint = '/api/v1/users' AND outcome = 'RateLimited' AND timestamp > @a",
            ("@a", at)));
        Assert.Equal(2, await app.Database.ScalarAsync("SELECT COUNT(*) FROM usage_logs WHERE endpoint = '/api/v1/users/{id}' AND outcome <> 'RateLimited'"));

        // The writer's rows come after the moved ones (PostgreSQL's identity sequence was moved on past them).
        var store = app.Services.GetRequiredService<Tollgate.Usage.IUsageBatchStore>();
        var batch = new Tollgate.Usage.UsageBatch();
        batch.Add(new Tollgate.Usage.UsageEvent(7, 9, at, "GET", "/api/v1/ping", 200, 10, LimitOutcome.Admitted, QuotaPeriod.Month, new DateTime(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc)));
        await store.WriteAsync(batch, CancellationToken.None);
        Assert.Equal(rows[^1].Id + 1, await db.UsageLogs.MaxAsync(l => l.Id));
        Assert.Equal(1, await app.Database.ScalarAsync("SELECT COUNT(*) FROM usage_logs WHERE endpoint = '/api/v1/ping'"));
    }

    [Fact]
    public void Migrations_StoreTimesAndHashesWithTheSameMeaningOnEveryProvider()
    {
        static string Type(DbContext db, string table, string column) =>
            db.GetService<IDesignTimeModel>().Model.GetRelationalModel().FindTable(table, null)!.FindColumn(column)!.StoreType;

        using var postgres = new PostgresDesignTimeFactory().CreateDbContext([]);
        using var mySql = new MySqlDesignTimeFactory().CreateDbContext([]);

        Assert.Equal("timestamp with time zone", Type(postgres, "quota_counters", "period_start"));
        Assert.Equal("datetime(6)", Type(mySql, "quota_counters", "period_start"));
        Assert.Equal("bytea", Type(postgres, "api_keys", "hash"));
        Assert.Equal("varbinary(32)", Type(mySql, "api_keys", "hash"));
        Assert.Equal("character varying(16)", Type(postgres, "usage_rollups", "outcome"));
        Assert.Equal("varchar(16)", Type(mySql, "usage_rollups", "outcome"));
        // The raw log is lean everywhere: Unix milliseconds and a numeric outcome (the usage_logs view shows them as text).
        Assert.Equal("bigint", Type(postgres, "usage_log_entries", "time_ms"));
        Assert.Equal("bigint", Type(mySql, "usage_log_entries", "time_ms"));
        Assert.Equal("smallint", Type(postgres, "usage_log_entries", "outcome"));
        Assert.Equal("smallint", Type(mySql, "usage_log_entries", "outcome"));
    }

    [Theory]
    [MemberData(nameof(DatabaseProviders.All), MemberType = typeof(DatabaseProviders))]
    public async Task TenantNames_DifferingOnlyInCase_AreTwoTenants(DatabaseProvider provider)
    {
        // MySQL compares text case-insensitively unless told otherwise; the schema says otherwise, as on the others.
        await using var app = new TollgateApp(provider);
        await app.CreateTenantAsync(quota: 10, name: "Acme");
        await app.CreateTenantAsync(quota: 10, name: "ACME");

        Assert.Equal(1, await app.Database.ScalarAsync("SELECT COUNT(*) FROM tenants WHERE name = @name", ("@name", "Acme")));
    }

    /// <summary>Tables, columns (name, CLR type, nullability, length), keys and indexes, in a provider-neutral form.</summary>
    private static List<string> Describe(DbContext db)
    {
        using (db)
        {
            var model = db.GetService<IDesignTimeModel>().Model.GetRelationalModel();
            var lines = new List<string>();
            foreach (var table in model.Tables.OrderBy(t => t.Name, StringComparer.Ordinal))
            {
                foreach (var column in table.Columns.OrderBy(c => c.Name, StringComparer.Ordinal))
                {
                    var mapping = column.PropertyMappings[0];
                    var clr = mapping.TypeMapping.Converter?.ProviderClrType ?? mapping.TypeMapping.ClrType;
                    lines.Add($"{table.Name}.{column.Name} {clr.Name} null={column.IsNullable} max={column.MaxLength}");
                }

                lines.Add($"{table.Name} pk {string.Join(',', table.PrimaryKey!.Columns.Select(c => c.Name))}");
                lines.AddRange(table.Indexes.Select(i => $"{table.Name} index {i.Name} unique={i.IsUnique} {string.Join(',', i.Columns.Select(c => c.Name))}")
                    .Order(StringComparer.Ordinal));
                lines.AddRange(table.ForeignKeyConstraints.Select(f => $"{table.Name} fk {f.Name} {f.OnDeleteAction}")
                    .Order(StringComparer.Ordinal));
            }

            return lines;
        }
    }

    private sealed record NameDto(string Name);
}
