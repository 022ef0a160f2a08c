using System.Net;
using System.Net.Http.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.Extensions.DependencyInjection;
using Tollgate.Data;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Data;

public sealed class MigrationTests
{
    private static readonly string[] Tables =
        ["plans", "tenants", "api_keys", "users", "usage_logs", "usage_rollups", "quota_counters", "admins", "audit_log"];

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

    [Fact]
    public void Migrations_StoreTimesAndHashesWithTheSameMeaningOnEveryProvider()
    {
        static string Type(DbContext db, string table, string column) =>
            db.GetService<IDesignTimeModel>().Model.GetRelationalModel().FindTable(table, null)!.FindColumn(column)!.StoreType;

        using var postgres = new PostgresDesignTimeFactory().CreateDbContext([]);
        using var mySql = new MySqlDesignTimeFactory().CreateDbContext([]);

        Assert.Equal("timestamp with time zone", Type(postgres, "usage_logs", "timestamp"));
        Assert.Equal("timestamp with time zone", Type(postgres, "quota_counters", "period_start"));
        Assert.Equal("datetime(6)", Type(mySql, "usage_logs", "timestamp"));
        Assert.Equal("datetime(6)", Type(mySql, "quota_counters", "period_start"));
        Assert.Equal("bytea", Type(postgres, "api_keys", "hash"));
        Assert.Equal("varbinary(32)", Type(mySql, "api_keys", "hash"));
        Assert.Equal("character varying(16)", Type(postgres, "usage_logs", "outcome"));
        Assert.Equal("varchar(16)", Type(mySql, "usage_logs", "outcome"));
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
