using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.DependencyInjection;
using Tollgate.Limits;
using Tollgate.Usage;

namespace Tollgate.Benchmarks;

/// <summary>
/// The usage writer's share of a request on SQLite: one batch of <see cref="Events"/> events of one tenant, as the ping
/// load makes them (one key and route, the time moving on, latencies varying), stored by the server's own batch store
/// in one transaction. Divide by <see cref="Events"/> for the cost of a request's row and aggregates.
/// </summary>
[MemoryDiagnoser]
public class BatchStoreBenchmarks
{
    private readonly string _databasePath = Path.Combine(Path.GetTempPath(), $"tollgate-batchstore-{Environment.ProcessId}.db");
    private BenchServices _services = null!;
    private IUsageBatchStore _store = null!;
    private UsageBatch _batch = null!;
    private UsageEvent _event;
    private DateTime _time;

    /// <summary>Events per batch: what 50 ms of flat-out ping load on this machine's two cores gathers (~2,000).</summary>
    [Params(2000)]
    public int Events { get; set; }

    /// <summary>Creates a tenant and its key in a fresh database.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _services = BenchServices.StartAsync(_databasePath, tenantCount: 1).GetAwaiter().GetResult();
        _store = _services.Provider.GetRequiredService<IUsageBatchStore>();
        var tenant = _services.Tenants[0];
        _time = DateTime.UtcNow;
        var periodStart = new DateTime(_time.Year, _time.Month, 1, 0, 0, 0, DateTimeKind.Utc);
        _event = new UsageEvent(tenant.TenantId, tenant.KeyId, _time, "GET", "/api/v1/ping", 200, 150,
            LimitOutcome.Admitted, QuotaPeriod.Month, periodStart);
        _batch = new UsageBatch(Events);
    }

    /// <summary>Drops the services and the database file.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _services.DisposeAndDeleteSqlite(_databasePath);
    }

    /// <summary>Builds the next batch: about 40 requests a millisecond, latencies 100–400 µs.</summary>
    [IterationSetup]
    public void NextBatch()
    {
        _batch.Clear();
        for (var i = 0; i < Events; i++)
        {
            _time = _time.AddTicks(TimeSpan.TicksPerMillisecond / 40);
            _batch.Add(_event with { Timestamp = _time, LatencyMicros = 100 + (i * 7919 % 300) });
        }
    }

    /// <summary>Stores the batch: raw rows, three roll-up tiers, the quota counter and the key's last use.</summary>
    [Benchmark]
    public Task WriteBatch() => _store.WriteAsync(_batch, CancellationToken.None);
}
