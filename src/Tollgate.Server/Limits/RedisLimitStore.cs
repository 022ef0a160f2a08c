using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using Tollgate.Keys;

namespace Tollgate.Limits;

/// <summary>
/// Limits shared by every instance through Redis. A Lua script checks the quota and the rate and increments both
/// atomically on the server, for one request or for a batch of one tenant's concurrent requests, so no instance ever reads a count and writes it later (the gap behind
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
    // Decides a batch of checks of one tenant, in order: for check i, KEYS[2i-1] is the quota counter and KEYS[2i]
    // the rate counter (one tenant's keys share a hash tag: one slot on Redis Cluster); ARGV[3i-2] the quota limit,
    // ARGV[3i-1] the rate limit (0: none), ARGV[3i] the rate counter's TTL in ms. Returns {outcome, used, rateCount}
    // per check; outcome -1 asks the caller to seed the quota counter from the database first.
    // Each counter is read once (GET on first use) and written once (INCRBY of what the batch added, at the end):
    // the script runs atomically, so this is the same as a GET and an INCR per check, for a fraction of the work.
    // redis-cli info commandstats, 64 connections on one tenant: script time per check 2.3-2.6 µs with a GET and an
    // INCR per check, 1.6 µs like this; bench/run redis 0.655-0.667 → 0.705-0.708 of the in-process throughput.
    private const string AcquireScript = """
        local quota, quotaAdded, rate, rateAdded, rateTtl, out = {}, {}, {}, {}, {}, {}
        for i = 1, #KEYS / 2 do
          local quotaKey, rateKey, a = KEYS[2 * i - 1], KEYS[2 * i], 3 * i - 2
          local used = quota[quotaKey]
          if used == nil then
            used = redis.call('GET', quotaKey)
            used = used and tonumber(used) or false
            quota[quotaKey] = used
            quotaAdded[quotaKey] = 0
          end
          if not used then
            out[#out + 1] = -1; out[#out + 1] = 0; out[#out + 1] = 0
          else
            local rateLimit = tonumber(ARGV[a + 1])
            local count, outcome = 0, 0
            if used >= tonumber(ARGV[a]) then
              outcome = 2
            elseif rateLimit > 0 then
              count = rate[rateKey]
              if count == nil then
                count = tonumber(redis.call('GET', rateKey) or '0')
                rateAdded[rateKey] = 0
              end
              if count >= rateLimit then
                outcome = 1
              else
                count = count + 1
                rateAdded[rateKey] = rateAdded[rateKey] + 1
                rateTtl[rateKey] = ARGV[a + 2]
              end
              rate[rateKey] = count
            end
            if outcome == 0 then
              used = used + 1
              quota[quotaKey] = used
              quotaAdded[quotaKey] = quotaAdded[quotaKey] + 1
            end
            out[#out + 1] = outcome; out[#out + 1] = used; out[#out + 1] = count
          end
        end
        for key, n in pairs(quotaAdded) do
          if n > 0 then redis.call('INCRBY', key, n) end
        end
        for key, n in pairs(rateAdded) do
          -- A rate counter this batch created expires with its window.
          if n > 0 and redis.call('INCRBY', key, n) == n then redis.call('PEXPIRE', key, rateTtl[key]) end
        end
        return out
        """;

    // Adds what this instance admitted on its own while Redis was away, if the shared counter survived.
    private const string CatchUpScript = """
        if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('INCRBY', KEYS[1], ARGV[1]) end
        return 0
        """;

    private readonly ConcurrentDictionary<(long TenantId, QuotaPeriod Period, DateTime Start), long> _admittedWhileAway = new();
    private readonly ConcurrentDictionary<long, TenantLane> _lanes = new();
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
                var key = LaneOf(tenant.Id).QuotaKeyFor(policy.QuotaPeriod, periodStart);
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

    public void Forget(long tenantId)
    {
        _lanes.TryRemove(tenantId, out _);
        fallback.Forget(tenantId);
    }

    private TenantLane LaneOf(long tenantId) => _lanes.GetOrAdd(tenantId, static id => new TenantLane(id));

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
        var rateLimit = policy.HasRate ? policy.RateLimit!.Value : 0;
        var windowSeconds = policy.HasRate ? policy.RateWindowSeconds!.Value : 0;
        var windowTicks = windowSeconds * TimeSpan.TicksPerSecond;
        var windowStart = windowTicks > 0 ? now.Ticks - now.Ticks % windowTicks : 0;
        var lane = LaneOf(tenant.Id);
        var check = new Check(
            lane.QuotaKeyFor(policy.QuotaPeriod, periodStart),
            lane.RateKeyFor(windowSeconds, windowStart),
            policy.QuotaLimit,
            rateLimit,
            windowSeconds * 1000L + 1000);
        var result = await lane.RunAsync(this, check);
        if (result.Outcome < 0)
        {
            // The counter is gone (Redis restarted, evicted or flushed): rebuild it, then decide once more.
            await SeedAsync(check.QuotaKey, tenant.Id, policy.QuotaPeriod, periodStart, periodEnd, now, ct);
            result = await lane.RunAsync(this, check);
        }

        return new LimitDecision(
            result.Outcome switch { 0 => LimitOutcome.Admitted, 1 => LimitOutcome.RateLimited, _ => LimitOutcome.QuotaExceeded },
            new QuotaUsage(result.Used, policy.QuotaLimit, policy.QuotaPeriod, periodStart, periodEnd),
            rateLimit,
            windowSeconds,
            rateLimit > 0 ? Math.Max(0, rateLimit - result.RateCount) : 0,
            rateLimit > 0 ? new DateTime(windowStart + windowTicks, DateTimeKind.Utc) : default);
    }

    /// <summary>Runs <see cref="AcquireScript"/> for checks of one tenant, in order.</summary>
    private async Task EvaluateAsync(IReadOnlyList<Check> checks, CheckResult[] results)
    {
        var keys = new RedisKey[checks.Count * 2];
        var values = new RedisValue[checks.Count * 3];
        for (var i = 0; i < checks.Count; i++)
        {
            var check = checks[i];
            keys[2 * i] = check.QuotaKey;
            keys[2 * i + 1] = check.RateKey;
            values[3 * i] = check.QuotaLimit;
            values[3 * i + 1] = check.RateLimit;
            values[3 * i + 2] = check.RateTtlMilliseconds;
        }

        var reply = (RedisResult[])(await redis.GetDatabase().ScriptEvaluateAsync(AcquireScript, keys, values))!;
        for (var i = 0; i < checks.Count; i++)
        {
            results[i] = new CheckResult((int)reply[3 * i], (long)reply[3 * i + 1], (int)reply[3 * i + 2]);
        }
    }

    /// <summary>
    /// Puts the stored count of the period into Redis when the counter is missing. SET NX: when several instances
    /// seed at once, the first wins and the others count on top of it.
    /// </summary>
    private async Task<long> SeedAsync(
        RedisKey key, long tenantId, QuotaPeriod period, DateTime periodStart, DateTime periodEnd, DateTime now, CancellationToken ct)
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

    /// <summary>One request's check: its tenant's counters and limits.</summary>
    private readonly record struct Check(RedisKey QuotaKey, RedisKey RateKey, long QuotaLimit, int RateLimit, long RateTtlMilliseconds);

    /// <summary>What the script decided for one check: outcome (-1 seed first, 0 admitted, 1 rate, 2 quota).</summary>
    private readonly record struct CheckResult(int Outcome, long Used, int RateCount);

    /// <summary>
    /// One tenant's way to Redis: at most one script in flight, and the checks that arrive meanwhile go together in
    /// the next one, in arrival order (still exact: the script decides them one after another, atomically). A lone
    /// request goes at once, so batching adds no wait at low load; under load one round trip decides many.
    /// Measured with bench/run redis (64 connections, one tenant): one script per request reached 0.62–0.68 of the
    /// in-process throughput, with redis-server alone using a quarter of a core; batches of ~12 checks 0.66–0.71.
    /// </summary>
    private sealed class TenantLane(long tenantId)
    {
        private readonly Lock _gate = new();
        private List<Waiter> _waiting = [];
        private bool _inFlight;

        // The key strings of the current period and rate window, built once rather than per request. Immutable
        // records swapped whole, so a reader never sees a key paired with another period's start.
        private QuotaKeyCache? _quotaKey;
        private RateKeyCache? _rateKey;

        public RedisKey QuotaKeyFor(QuotaPeriod period, DateTime start)
        {
            var cached = _quotaKey;
            if (cached is null || cached.Period != period || cached.Start != start)
            {
                cached = new QuotaKeyCache(period, start, QuotaKey(tenantId, period, start));
                _quotaKey = cached;
            }

            return cached.Key;
        }

        public RedisKey RateKeyFor(int seconds, long start)
        {
            var cached = _rateKey;
            if (cached is null || cached.Seconds != seconds || cached.Start != start)
            {
                cached = new RateKeyCache(seconds, start, RateKey(tenantId, seconds, start));
                _rateKey = cached;
            }

            return cached.Key;
        }

        public Task<CheckResult> RunAsync(RedisLimitStore store, Check check)
        {
            lock (_gate)
            {
                if (_inFlight)
                {
                    var waiter = new Waiter(check);
                    _waiting.Add(waiter);
                    return waiter.Done.Task;
                }

                _inFlight = true;
            }

            return RunAloneAsync(store, check);
        }

        private async Task<CheckResult> RunAloneAsync(RedisLimitStore store, Check check)
        {
            var results = new CheckResult[1];
            try
            {
                await store.EvaluateAsync([check], results);
            }
            finally
            {
                // Whatever arrived during this round trip goes next, on its own (not awaited by this request).
                SendWaiting(store);
            }

            return results[0];
        }

        /// <summary>Sends the checks that wait, if any, as the next script; otherwise the lane is idle again.</summary>
        private void SendWaiting(RedisLimitStore store)
        {
            List<Waiter> batch;
            lock (_gate)
            {
                if (_waiting.Count == 0)
                {
                    _inFlight = false;
                    return;
                }

                batch = _waiting;
                _waiting = new List<Waiter>(batch.Count);
            }

            _ = SendAsync(store, batch);
        }

        private async Task SendAsync(RedisLimitStore store, List<Waiter> batch)
        {
            var checks = new Check[batch.Count];
            for (var i = 0; i < batch.Count; i++)
            {
                checks[i] = batch[i].Check;
            }

            var results = new CheckResult[batch.Count];
            Exception? error = null;
            try
            {
                await store.EvaluateAsync(checks, results);
            }
            catch (Exception ex)
            {
                error = ex;
            }

            // The next batch leaves before this one's requests run on, so Redis works on it meanwhile
            // (outside the harness, same load: 37,700–39,800 → 40,800–42,500 req/s).
            SendWaiting(store);
            for (var i = 0; i < batch.Count; i++)
            {
                if (error is null)
                {
                    batch[i].Done.TrySetResult(results[i]);
                }
                else
                {
                    // Every waiter sees the failure and takes the failure-mode path itself.
                    batch[i].Done.TrySetException(error);
                }
            }
        }
    }

    private sealed record QuotaKeyCache(QuotaPeriod Period, DateTime Start, RedisKey Key);

    private sealed record RateKeyCache(int Seconds, long Start, RedisKey Key);

    /// <summary>A check waiting for the next script; completed off the sending loop so one slow request holds none.</summary>
    private sealed class Waiter(Check check)
    {
        public Check Check { get; } = check;

        public TaskCompletionSource<CheckResult> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
