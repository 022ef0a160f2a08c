using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using Tollgate.Keys;

namespace Tollgate.Limits;

/// <summary>
/// Limits shared by every instance through Redis. One Lua script per request checks the quota and the rate and
/// increments both atomically on the server, so no instance ever reads a count and writes it later (the gap behind
/// Kong #5311 and #5790) and no limit is split between nodes (Tyk's distributed limiter): the sum of admitted
/// requests across instances never exceeds the quota.
/// <para>
/// A missing counter (Redis restarted, evicted or flushed) is rebuilt from the database before more traffic is
/// admitted. When Redis cannot be reached, <see cref="RedisFailureMode.Open"/> falls back to this instance's own
/// counts and <see cref="RedisFailureMode.Closed"/> refuses with 503; shared limits resume as soon as Redis answers.
/// </para>
/// </summary>
internal sealed partial class RedisLimitStore(
    IConnectionMultiplexer redis,
    IQuotaSeedSource seeds,
    InProcessLimitStore fallback,
    TimeProvider time,
    IOptions<TollgateOptions> options,
    ILogger<RedisLimitStore> logger) : ILimitStore
{
    // Returns {outcome, used, rateCount}; outcome -1 asks the caller to seed the quota counter first.
    // KEYS[1] quota counter, KEYS[2] rate counter (same hash tag: one slot on Redis Cluster).
    // ARGV[1] quota limit, ARGV[2] quota counter TTL in seconds, ARGV[3] rate limit (0: none), ARGV[4] rate TTL ms.
    private const string AcquireScript = """
        local used = redis.call('GET', KEYS[1])
        if not used then return {-1, 0, 0} end
        used = tonumber(used)
        if used >= tonumber(ARGV[1]) then return {2, used, 0} end
        local rateLimit = tonumber(ARGV[3])
        local rate = 0
        if rateLimit > 0 then
          rate = tonumber(redis.call('GET', KEYS[2]) or '0')
          if rate >= rateLimit then return {1, used, rate} end
          rate = redis.call('INCR', KEYS[2])
          if rate == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[4]) end
        end
        used = redis.call('INCR', KEYS[1])
        return {0, used, rate}
        """;

    // Adds what this instance admitted on its own while Redis was away, if the shared counter survived.
    private const string CatchUpScript = """
        if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('INCRBY', KEYS[1], ARGV[1]) end
        return 0
        """;

    private readonly ConcurrentDictionary<(long TenantId, QuotaPeriod Period, DateTime Start), long> _admittedWhileAway = new();
    private readonly RedisFailureMode _failureMode = options.Value.RedisFailureMode;
    private int _degraded;

    /// <summary>True while Redis is unreachable and this instance uses its own counts (or refuses).</summary>
    public bool Degraded => Volatile.Read(ref _degraded) == 1;

    public async ValueTask<LimitDecision> AcquireAsync(TenantContext tenant, CancellationToken cancellationToken = default)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var policy = tenant.Policy;
        var periodStart = QuotaPeriods.StartOf(policy.QuotaPeriod, now);
        var periodEnd = QuotaPeriods.NextStart(policy.QuotaPeriod, periodStart);
        if (redis.IsConnected)
        {
            try
            {
                var decision = await AcquireSharedAsync(tenant, now, periodStart, periodEnd, cancellationToken);
                await RecoveredAsync();
                return decision;
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                LostRedis(ex);
            }
        }
        else
        {
            LostRedis(null);
        }

        if (_failureMode == RedisFailureMode.Closed)
        {
            throw new LimitStoreUnavailableException();
        }

        var local = await fallback.AcquireAsync(tenant, cancellationToken);
        if (local.Admitted)
        {
            _admittedWhileAway.AddOrUpdate((tenant.Id, policy.QuotaPeriod, periodStart), 1, static (_, n) => n + 1);
        }

        return local;
    }

    public async ValueTask<QuotaUsage> PeekAsync(TenantContext tenant, CancellationToken cancellationToken = default)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var policy = tenant.Policy;
        var periodStart = QuotaPeriods.StartOf(policy.QuotaPeriod, now);
        var periodEnd = QuotaPeriods.NextStart(policy.QuotaPeriod, periodStart);
        if (redis.IsConnected)
        {
            try
            {
                var key = QuotaKey(tenant.Id, policy.QuotaPeriod, periodStart);
                var value = await redis.GetDatabase().StringGetAsync(key);
                var used = value.HasValue ? (long)value : await SeedAsync(key, tenant.Id, policy.QuotaPeriod, periodStart, periodEnd, now, cancellationToken);
                return new QuotaUsage(used, policy.QuotaLimit, policy.QuotaPeriod, periodStart, periodEnd);
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                LostRedis(ex);
            }
        }

        // Reading is harmless even in Closed mode: show this instance's own figures.
        return await fallback.PeekAsync(tenant, cancellationToken);
    }

    public void Forget(long tenantId) => fallback.Forget(tenantId);

    /// <summary>Key of a tenant's quota counter; the hash tag keeps a tenant's keys in one Redis Cluster slot.</summary>
    internal static string QuotaKey(long tenantId, QuotaPeriod period, DateTime periodStart) =>
        string.Create(CultureInfo.InvariantCulture, $"tg:{{t{tenantId}}}:q:{period}:{new DateTimeOffset(periodStart).ToUnixTimeSeconds()}");

    /// <summary>Key of a tenant's rate counter for one fixed window.</summary>
    internal static string RateKey(long tenantId, int windowSeconds, long windowStartTicks) =>
        string.Create(CultureInfo.InvariantCulture, $"tg:{{t{tenantId}}}:r:{windowSeconds}:{windowStartTicks / TimeSpan.TicksPerSecond}");

    private async Task<LimitDecision> AcquireSharedAsync(
        TenantContext tenant, DateTime now, DateTime periodStart, DateTime periodEnd, CancellationToken ct)
    {
        var policy = tenant.Policy;
        var quotaKey = QuotaKey(tenant.Id, policy.QuotaPeriod, periodStart);
        var rateLimit = policy.HasRate ? policy.RateLimit!.Value : 0;
        var windowSeconds = policy.HasRate ? policy.RateWindowSeconds!.Value : 0;
        var windowTicks = windowSeconds * TimeSpan.TicksPerSecond;
        var windowStart = windowTicks > 0 ? now.Ticks - now.Ticks % windowTicks : 0;
        RedisKey[] keys = [quotaKey, RateKey(tenant.Id, windowSeconds, windowStart)];
        RedisValue[] values =
        [
            policy.QuotaLimit,
            QuotaTtlSeconds(periodEnd, now),
            rateLimit,
            windowSeconds * 1000L + 1000,
        ];
        var db = redis.GetDatabase();
        for (var attempt = 0; ; attempt++)
        {
            var result = (RedisResult[])(await db.ScriptEvaluateAsync(AcquireScript, keys, values))!;
            var outcome = (int)result[0];
            if (outcome < 0 && attempt == 0)
            {
                await SeedAsync(quotaKey, tenant.Id, policy.QuotaPeriod, periodStart, periodEnd, now, ct);
                continue;
            }

            var used = (long)result[1];
            var rateCount = (int)result[2];
            return new LimitDecision(
                outcome switch { 0 => LimitOutcome.Admitted, 1 => LimitOutcome.RateLimited, _ => LimitOutcome.QuotaExceeded },
                new QuotaUsage(used, policy.QuotaLimit, policy.QuotaPeriod, periodStart, periodEnd),
                rateLimit,
                windowSeconds,
                rateLimit > 0 ? Math.Max(0, rateLimit - rateCount) : 0,
                rateLimit > 0 ? new DateTime(windowStart + windowTicks, DateTimeKind.Utc) : default);
        }
    }

    /// <summary>
    /// Puts the stored count of the period into Redis when the counter is missing. SET NX: when several instances
    /// seed at once, the first wins and the others count on top of it.
    /// </summary>
    private async Task<long> SeedAsync(
        string key, long tenantId, QuotaPeriod period, DateTime periodStart, DateTime periodEnd, DateTime now, CancellationToken ct)
    {
        var stored = await seeds.GetUsedAsync(tenantId, period, periodStart, ct);
        var db = redis.GetDatabase();
        if (await db.StringSetAsync(key, stored, TimeSpan.FromSeconds(QuotaTtlSeconds(periodEnd, now)), When.NotExists))
        {
            LogSeeded(logger, tenantId, period, stored);
            return stored;
        }

        return (long)await db.StringGetAsync(key);
    }

    // The counter outlives its period by a day, so a late check near the boundary still finds it.
    private static long QuotaTtlSeconds(DateTime periodEnd, DateTime now) => (long)(periodEnd - now).TotalSeconds + 86_400;

    private void LostRedis(Exception? exception)
    {
        if (Interlocked.Exchange(ref _degraded, 1) == 0)
        {
            LogRedisLost(logger, exception, _failureMode);
        }
    }

    private async Task RecoveredAsync()
    {
        if (Volatile.Read(ref _degraded) == 0 || Interlocked.Exchange(ref _degraded, 0) == 0)
        {
            return;
        }

        var db = redis.GetDatabase();
        foreach (var ((tenantId, period, start), count) in _admittedWhileAway)
        {
            if (_admittedWhileAway.TryRemove((tenantId, period, start), out var n) && n > 0)
            {
                await db.ScriptEvaluateAsync(CatchUpScript, [QuotaKey(tenantId, period, start)], [n]);
            }
        }

        // The local counts were only for the outage; a later outage starts again from the database.
        fallback.ForgetAll();
        LogRedisBack(logger);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Redis is unreachable; limits are now {Mode}: Open = per-instance counts, Closed = 503")]
    private static partial void LogRedisLost(ILogger logger, Exception? exception, RedisFailureMode mode);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis answers again; limits are shared again")]
    private static partial void LogRedisBack(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message = "Rebuilt the {Period} counter of tenant {TenantId} in Redis from the database: {Used}")]
    private static partial void LogSeeded(ILogger logger, long tenantId, QuotaPeriod period, long used);
}
