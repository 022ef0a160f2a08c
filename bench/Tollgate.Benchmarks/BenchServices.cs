using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Tollgate.Data;
using Tollgate.Keys;
using Tollgate.Limits;
using Tollgate.Usage;

namespace Tollgate.Benchmarks;

/// <summary>
/// The server's own composition of data, keys, limits and usage (the same <c>AddTollgateXxx</c> calls as
/// Program.cs) on any of the three databases, without the web host. Tenants and their keys are written straight to the
/// database.
/// </summary>
internal sealed class BenchServices : IAsyncDisposable
{
    private BenchServices(ServiceProvider provider, IReadOnlyList<BenchTenant> tenants)
    {
        Provider = provider;
        Tenants = tenants;
    }

    /// <summary>The services, as the server would resolve them.</summary>
    public ServiceProvider Provider { get; }

    /// <summary>The tenants, each with one key.</summary>
    public IReadOnlyList<BenchTenant> Tenants { get; }

    /// <summary>Stops the services and deletes their SQLite file (with its WAL and shared memory): a benchmark's cleanup.</summary>
    public void DisposeAndDeleteSqlite(string databasePath)
    {
        DisposeAsync().AsTask().GetAwaiter().GetResult();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var suffix in new[] { "", "-wal", "-shm" })
        {
            File.Delete(databasePath + suffix);
        }
    }

    /// <summary>Starts on a SQLite file; see <see cref="StartAsync(BenchDatabase, int, IDictionary{string, string?}?)"/>.</summary>
    public static Task<BenchServices> StartAsync(string databasePath, int tenantCount, IDictionary<string, string?>? settings = null) =>
        StartAsync(BenchDatabase.Sqlite(databasePath), tenantCount, settings);

    /// <summary>
    /// Migrates the database (creating a SQLite file when missing), creates <paramref name="tenantCount"/> tenants with a
    /// key each when it has none yet, and loads the tenant directory. Keys of tenants that already existed are not
    /// known in clear (only their hash is stored), so <see cref="BenchTenant.Key"/> is null for them.
    /// </summary>
    public static async Task<BenchServices> StartAsync(BenchDatabase database, int tenantCount, IDictionary<string, string?>? settings = null)
    {
        var values = new Dictionary<string, string?>
        {
            ["Tollgate:Database:Provider"] = database.Provider.ToString(),
            ["ConnectionStrings:Tollgate"] = database.ConnectionString,
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            values[key] = value;
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddLogging();
        // The usage spool resolves its relative path against the content root, as in the server.
        services.AddSingleton<IHostEnvironment>(new Microsoft.Extensions.Hosting.Internal.HostingEnvironment
        {
            ApplicationName = "Tollgate.Benchmarks",
            EnvironmentName = Environments.Production,
            ContentRootPath = AppContext.BaseDirectory,
            ContentRootFileProvider = new Microsoft.Extensions.FileProviders.NullFileProvider(),
        });
        services.AddTollgateData(configuration);
        services.AddTollgateKeys();
        services.AddTollgateLimits();
        services.AddTollgateUsage();
        var provider = services.BuildServiceProvider();

        // Migrations first, then the start-up seeders (tenant directory, quota preload), as on a real start.
        await provider.GetServices<IHostedService>().OfType<DatabaseMigrator>().Single().StartAsync(CancellationToken.None);
        var tenants = await SeedAsync(provider, tenantCount);
        await provider.GetRequiredService<TenantDirectory>().ReloadAsync();
        return new BenchServices(provider, tenants);
    }

    public ValueTask DisposeAsync() => Provider.DisposeAsync();

    /// <summary>The highest usage_logs id: instant on a 10-million-row table (the primary key's index).</summary>
    public async Task<long> MaxUsageLogIdAsync()
    {
        await using var scope = Provider.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TollgateDbContext>();
        return await db.UsageLogs.MaxAsync(l => (long?)l.Id) ?? 0;
    }

    /// <summary>How many usage_logs rows have an id above <paramref name="id"/>: the rows a run added.</summary>
    public async Task<long> CountUsageLogsAfterAsync(long id)
    {
        await using var scope = Provider.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TollgateDbContext>();
        return await db.UsageLogs.LongCountAsync(l => l.Id > id);
    }

    private static async Task<IReadOnlyList<BenchTenant>> SeedAsync(IServiceProvider provider, int tenantCount)
    {
        await using var scope = provider.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TollgateDbContext>();
        if (!await db.Tenants.AnyAsync())
        {
            var now = DateTime.UtcNow;
            // A quota no benchmark reaches: every request is admitted and recorded.
            var plan = new Plan { Name = "Bench", QuotaLimit = 1_000_000_000_000, QuotaPeriod = QuotaPeriod.Month, CreatedAt = now };
            db.Plans.Add(plan);
            await db.SaveChangesAsync();
            var tenants = Enumerable.Range(1, tenantCount)
                .Select(i => new Tenant { Name = $"Tenant {i:D4}", PlanId = plan.Id, Status = TenantStatus.Active, CreatedAt = now })
                .ToList();
            db.Tenants.AddRange(tenants);
            await db.SaveChangesAsync();
            var created = new List<(ApiKey Key, string Clear)>();
            foreach (var tenant in tenants)
            {
                var clear = ApiKeyFormat.Generate();
                var key = new ApiKey
                {
                    TenantId = tenant.Id,
                    Name = "bench",
                    Hash = ApiKeyFormat.HashToBytes(clear),
                    Start = ApiKeyFormat.StartOf(clear),
                    CreatedAt = now,
                };
                db.ApiKeys.Add(key);
                created.Add((key, clear));
            }

            await db.SaveChangesAsync();
            return [.. created.Select(c => new BenchTenant(c.Key.TenantId, c.Key.Id, c.Clear))];
        }

        var existing = await db.ApiKeys.AsNoTracking().OrderBy(k => k.TenantId).Select(k => new { k.TenantId, k.Id }).ToListAsync();
        return [.. existing.DistinctBy(k => k.TenantId).Select(k => new BenchTenant(k.TenantId, k.Id, null))];
    }
}

/// <summary>A tenant made for a benchmark.</summary>
/// <param name="TenantId">Tenant id.</param>
/// <param name="KeyId">Its key's id.</param>
/// <param name="Key">The whole key, when this run created it.</param>
internal sealed record BenchTenant(long TenantId, long KeyId, string? Key);

/// <summary>Which database a benchmark writes to.</summary>
/// <param name="Provider">The provider, as <c>Tollgate:Database:Provider</c>.</param>
/// <param name="ConnectionString">As <c>ConnectionStrings:Tollgate</c>.</param>
internal sealed record BenchDatabase(DatabaseProvider Provider, string ConnectionString)
{
    /// <summary>A SQLite file, created when missing.</summary>
    public static BenchDatabase Sqlite(string path) => new(DatabaseProvider.Sqlite, $"Data Source={path}");
}
