using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Tollgate.Data;
using Tollgate.Testing;
using Tollgate.Usage;

namespace Tollgate.Storage.Tests.Data;

/// <summary>
/// The metering guarantees of CONTRACT §3, end to end on PostgreSQL and MariaDB: an exact quota under concurrency,
/// every request logged by the time the app has stopped (even with a backlog at the stop), and a period's usage
/// surviving a restart.
/// </summary>
public sealed class MeteringOnServerDatabasesTests
{
    [Theory]
    [MemberData(nameof(DatabaseProviders.Servers), MemberType = typeof(DatabaseProviders))]
    public async Task Quota_64ClientsSend3000Requests_AdmitsExactly1000AndLogsEveryRequest(DatabaseProvider provider)
    {
        const int clients = 64;
        const int requests = 3000;
        const int quota = 1000;
        var app = new TollgateApp(provider);
        TestTenant tenant;
        var statuses = new int[600];
        try
        {
            tenant = await app.CreateTenantAsync(quota: quota);
            var remaining = requests;
            await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
            {
                using var client = app.TenantClient(tenant.ApiKey);
                while (Interlocked.Decrement(ref remaining) >= 0)
                {
                    using var response = await client.GetAsync("/api/v1/ping");
                    Interlocked.Increment(ref statuses[(int)response.StatusCode]);
                }
            })));
        }
        finally
        {
            // Stopping drains the usage writer: every answered request is in the database afterwards.
            await app.DisposeAsync();
        }

        Assert.Equal(quota, statuses[200]);
        Assert.Equal(requests - quota, statuses[429]);
        var db = app.Database;
        Assert.Equal(requests, await db.ScalarAsync("SELECT COUNT(*) FROM usage_logs WHERE tenant_id = @t", ("@t", tenant.Id)));
        Assert.Equal(quota, await db.ScalarAsync(
            "SELECT COUNT(*) FROM usage_logs WHERE tenant_id = @t AND outcome = 'Admitted'", ("@t", tenant.Id)));
        Assert.Equal(quota, await db.ScalarAsync("SELECT SUM(used) FROM quota_counters WHERE tenant_id = @t", ("@t", tenant.Id)));
        Assert.Equal(requests, await db.ScalarAsync("SELECT SUM(count) FROM usage_rollups WHERE tenant_id = @t", ("@t", tenant.Id)));
    }

    [Theory]
    [MemberData(nameof(DatabaseProviders.Servers), MemberType = typeof(DatabaseProviders))]
    public async Task Restart_UsageOfThePeriod_IsKeptAndStillLimits(DatabaseProvider provider)
    {
        TestTenant tenant;
        AppDatabase database;
        await using (var first = new TollgateApp(provider))
        {
            tenant = await first.CreateTenantAsync(quota: 10);
            using var client = first.TenantClient(tenant.ApiKey);
            for (var i = 0; i < 6; i++)
            {
                Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/ping")).StatusCode);
            }

            database = first.Database;
        }

        await using (var second = new TollgateApp(database))
        {
            using var client = second.TenantClient(tenant.ApiKey);
            var usage = await client.GetFromJsonAsync<UsageDto>("/api/v1/usage");
            Assert.Equal(new UsageDto(6, 10, 4), usage);
            for (var i = 0; i < 4; i++)
            {
                Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/ping")).StatusCode);
            }

            Assert.Equal(HttpStatusCode.TooManyRequests, (await client.GetAsync("/api/v1/ping")).StatusCode);
        }

        Assert.Equal(10, await database.ScalarAsync("SELECT SUM(used) FROM quota_counters WHERE tenant_id = @t", ("@t", tenant.Id)));
        Assert.Equal(11, await database.ScalarAsync("SELECT COUNT(*) FROM usage_logs WHERE tenant_id = @t", ("@t", tenant.Id)));
    }

    [Theory]
    [MemberData(nameof(DatabaseProviders.Servers), MemberType = typeof(DatabaseProviders))]
    public async Task Stop_WithEventsStillQueued_StoresThemAllBeforeExiting(DatabaseProvider provider)
    {
        // Each batch waits 200 ms before the provider's own store writes it, so events are still queued at the stop.
        var store = provider == DatabaseProvider.Postgres ? typeof(PostgresUsageBatchStore) : typeof(MySqlUsageBatchStore);
        var app = new TollgateApp(provider, configureServices: services => services.AddSingleton<IUsageBatchStore>(
            sp => new SlowStore((IUsageBatchStore)ActivatorUtilities.CreateInstance(sp, store))));
        var tenant = await app.CreateTenantAsync(quota: 1_000_000);
        int queued;
        try
        {
            using var client = app.TenantClient(tenant.ApiKey);
            await Parallel.ForAsync(0, 1500, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (_, ct) =>
            {
                using var response = await client.GetAsync("/api/v1/ping", ct);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            });
            queued = app.Services.GetRequiredService<UsageQueue>().Count;
        }
        finally
        {
            await app.DisposeAsync();
        }

        Assert.True(queued > 0, "The test needs events still queued when the stop begins.");
        Assert.Equal(1500, await app.Database.ScalarAsync(
            "SELECT COUNT(*) FROM usage_logs WHERE tenant_id = @t AND outcome = 'Admitted'", ("@t", tenant.Id)));
        Assert.Equal(1500, await app.Database.ScalarAsync("SELECT SUM(used) FROM quota_counters WHERE tenant_id = @t", ("@t", tenant.Id)));
    }

    private sealed record UsageDto(long Used, long Limit, long Remaining);

    private sealed class SlowStore(IUsageBatchStore inner) : IUsageBatchStore
    {
        public async Task WriteAsync(UsageBatch batch, CancellationToken cancellationToken)
        {
            await Task.Delay(200, cancellationToken);
            await inner.WriteAsync(batch, cancellationToken);
        }
    }
}
