using System.Globalization;
using StackExchange.Redis;
using Tollgate.Usage;

namespace Tollgate.Redis;

/// <summary>
/// The live dashboard's figures summed over every instance. Twice a second each instance writes its own
/// last-minute counts (latency sketches included, so percentiles stay right) to a Redis hash that expires unless
/// refreshed, then reads every live instance's hash and keeps the sum in memory for the dashboard.
/// </summary>
internal sealed partial class RedisLiveUsage(
    IConnectionMultiplexer redis,
    LiveUsageTracker local,
    TimeProvider time,
    ILogger<RedisLiveUsage> logger) : BackgroundService, ILiveUsageView
{
    private const string InstancesKey = "tg:live:instances";
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan InstanceTtl = TimeSpan.FromSeconds(5);

    private readonly string _instanceKey = "tg:live:" + Guid.NewGuid().ToString("N");
    private volatile Dictionary<long, LiveStats>? _shared;

    public LiveStats StatsOf(long tenantId)
    {
        // Until the first exchange with Redis (or while it is away), this instance's own figures.
        var shared = _shared;
        return shared is null ? local.StatsOf(tenantId) : shared.GetValueOrDefault(tenantId);
    }

    public void AddActive(ISet<long> tenants)
    {
        // The sum holds only tenants with traffic on some instance (ReadAll leaves out the idle ones).
        if (_shared is { } shared)
        {
            tenants.UnionWith(shared.Keys);
        }
        else
        {
            local.AddActive(tenants);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        do
        {
            try
            {
                await ExchangeAsync();
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                _shared = null;
                LogExchangeFailed(logger, ex);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    private async Task ExchangeAsync()
    {
        var db = redis.GetDatabase();
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var entries = local.ReadAll()
            .Select(e => new HashEntry(e.TenantId, Encode(e.Counts)))
            .ToArray();
        // One transaction, so a reader never sees this instance's hash half replaced.
        var transaction = db.CreateTransaction();
        _ = transaction.KeyDeleteAsync(_instanceKey);
        if (entries.Length > 0)
        {
            _ = transaction.HashSetAsync(_instanceKey, entries);
        }

        _ = transaction.KeyExpireAsync(_instanceKey, InstanceTtl);
        _ = transaction.SortedSetAddAsync(InstancesKey, _instanceKey, now);
        _ = transaction.SortedSetRemoveRangeByScoreAsync(InstancesKey, double.NegativeInfinity, now - InstanceTtl.TotalMilliseconds);
        await transaction.ExecuteAsync();

        var sums = new Dictionary<long, LiveCounts>();
        foreach (var instance in await db.SortedSetRangeByRankAsync(InstancesKey))
        {
            foreach (var entry in await db.HashGetAllAsync((string)instance!))
            {
                var tenantId = (long)entry.Name;
                var counts = Decode(entry.Value!);
                sums[tenantId] = sums.TryGetValue(tenantId, out var sum) ? sum.Plus(counts) : counts;
            }
        }

        _shared = sums.ToDictionary(s => s.Key, s => s.Value.ToStats());
    }

    // "requests,errors,rejected,sketch" with the sketch's bytes in base64: a few hundred bytes per busy tenant.
    private static string Encode(LiveCounts c) =>
        string.Create(CultureInfo.InvariantCulture, $"{c.Requests},{c.Errors},{c.Rejected},{Convert.ToBase64String(c.Latency.Encode())}");

    private static LiveCounts Decode(string value)
    {
        var parts = value.Split(',');
        var counts = parts[..3].Select(v => long.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        // An instance of an earlier version shares 18 histogram buckets instead of a sketch: its counts still add up,
        // its latencies are left out until it is upgraded too.
        var latency = parts.Length == 4 ? LatencySketch.Decode(Convert.FromBase64String(parts[3])) : new LatencySketch();
        return new LiveCounts(counts[0], counts[1], counts[2], latency);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not share live counts through Redis; showing this instance's own")]
    private static partial void LogExchangeFailed(ILogger logger, Exception exception);
}
