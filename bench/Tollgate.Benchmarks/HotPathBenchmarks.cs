using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.DependencyInjection;
using Tollgate.Keys;
using Tollgate.Limits;
using Tollgate.Usage;

namespace Tollgate.Benchmarks;

/// <summary>
/// The three steps the metering middleware takes for every request that hits warm caches — key look-up, limit
/// check, enqueue of the usage event — alone and together, on the server's real services. Target: 0 B allocated
/// per operation. HTTP, routing and the endpoint are not measured here (the wrk runs of bench/run are).
/// </summary>
[MemoryDiagnoser]
public class HotPathBenchmarks
{
    private readonly string _databasePath = Path.Combine(Path.GetTempPath(), $"tollgate-hotpath-{Environment.ProcessId}.db");
    private BenchServices _services = null!;
    private IApiKeyStore _keys = null!;
    private ILimitStore _limits = null!;
    private UsageQueue _queue = null!;
    private string _key = null!;
    private TenantContext _tenant = null!;
    private UsageEvent _event;
    private Metering.MeteringMetrics _decisions = null!;
    private readonly UsageBatch _batch = new();
    private Microsoft.AspNetCore.Http.DefaultHttpContext _context = null!;

    /// <summary>Creates a tenant and its key in a fresh database and warms the key cache and the counter.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _services = BenchServices.StartAsync(_databasePath, tenantCount: 1).GetAwaiter().GetResult();
        var provider = _services.Provider;
        _keys = provider.GetRequiredService<IApiKeyStore>();
        _limits = provider.GetRequiredService<ILimitStore>();
        _queue = provider.GetRequiredService<UsageQueue>();
        _key = _services.Tenants[0].Key!;

        // The first look-up reads api_keys and fills the cache; the first acquire seeds the counter.
        var lookup = _keys.FindAsync(_key).AsTask().GetAwaiter().GetResult();
        _tenant = lookup.Caller?.Tenant ?? throw new InvalidOperationException("The bench key was not found.");
        var decision = _limits.AcquireAsync(_tenant).AsTask().GetAwaiter().GetResult();
        _decisions = new Metering.MeteringMetrics(provider.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), new Metering.TelemetryOptions());
        _context = new Microsoft.AspNetCore.Http.DefaultHttpContext();
        Microsoft.AspNetCore.Http.EndpointHttpContextExtensions.SetEndpoint(_context, new Microsoft.AspNetCore.Routing.RouteEndpoint(
            _ => Task.CompletedTask, Microsoft.AspNetCore.Routing.Patterns.RoutePatternFactory.Parse("/api/v1/ping"), 0,
            Microsoft.AspNetCore.Http.EndpointMetadataCollection.Empty, "ping"));
        _event = new UsageEvent(_tenant.Id, lookup.Caller.KeyId, DateTime.UtcNow, "GET", "/api/v1/ping", 200, 150,
            decision.Outcome, decision.Quota.Period, decision.Quota.PeriodStart);
    }

    /// <summary>Drops the services and the database file.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _services.DisposeAndDeleteSqlite(_databasePath);
    }

    /// <summary>SHA-256 of the presented key (part of every look-up).</summary>
    [Benchmark]
    public bool TryHashKey() => ApiKeyFormat.TryHash(_key, out _);

    /// <summary>A warm key: hash, cache probe, tenant snapshot.</summary>
    [Benchmark]
    public KeyLookup FindWarmKey() => Completed(_keys.FindAsync(_key));

    /// <summary>Quota and rate decision of a seeded counter.</summary>
    [Benchmark]
    public LimitDecision AcquireLimit() => Completed(_limits.AcquireAsync(_tenant));

    /// <summary>
    /// Reservation and enqueue of one event, as the middleware does them; the writer's take is included so the queue
    /// never fills.
    /// </summary>
    [Benchmark]
    public bool RecordUsage()
    {
        if (!_queue.TryReserve() || !_queue.Enqueue(_event))
        {
            throw new InvalidOperationException("The queue is full.");
        }

        return _queue.TryTake(out _);
    }

    /// <summary>One count of <c>tollgate.metering.decisions</c>, as the middleware makes for every metered request.</summary>
    [Benchmark]
    public void CountDecision() => _decisions.Decided(_context, Metering.MeteringDecision.Admitted, _tenant.Id);

    /// <summary>The writer's fold of one event into its batch's aggregates (roll-up row, quota count, key use).</summary>
    [Benchmark]
    public void FoldUsageEvent() => _batch.AddWithoutRow(_event);

    /// <summary>The three together, as the middleware runs them for one metered request.</summary>
    [Benchmark]
    public bool LookupAcquireRecord()
    {
        var caller = Completed(_keys.FindAsync(_key)).Caller!;
        var reserved = _queue.TryReserve();
        var decision = Completed(_limits.AcquireAsync(caller.Tenant));
        if (!reserved || !_queue.Enqueue(_event with { Outcome = decision.Outcome }))
        {
            throw new InvalidOperationException("The queue is full.");
        }

        return _queue.TryTake(out _);
    }

    // Every call here completes synchronously on warm caches; anything else would be a bug worth seeing as a throw.
    private static T Completed<T>(ValueTask<T> task) =>
        task.IsCompletedSuccessfully ? task.Result : throw new InvalidOperationException("Expected a synchronous completion.");

    private static void Completed(ValueTask task)
    {
        if (!task.IsCompletedSuccessfully)
        {
            throw new InvalidOperationException("Expected a synchronous completion.");
        }
    }
}
