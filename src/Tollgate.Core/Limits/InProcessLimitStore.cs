using System.Collections.Concurrent;
using Tollgate.Keys;

namespace Tollgate.Limits;

/// <summary>
/// The embedded limit store: one counter per tenant in this process, guarded by a per-tenant lock so that the
/// quota check and the increment are one step (the read-then-write gap behind Kong #5311 cannot happen here).
/// Counts of periods that began before this process started are seeded from the database.
/// </summary>
internal sealed class InProcessLimitStore(TimeProvider time, IQuotaSeedSource seeds) : ILimitStore
{
    private readonly ConcurrentDictionary<long, TenantCounter> _counters = new();

    public ValueTask<LimitDecision> AcquireAsync(TenantContext tenant, CancellationToken cancellationToken = default) =>
        AcquireAsync(tenant, 1, cancellationToken);

    public ValueTask<LimitDecision> AcquireAsync(TenantContext tenant, int cost, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(cost, 1);
        var now = time.GetUtcNow().UtcDateTime;
        var counter = CounterOf(tenant.Id, now);
        // Fast path: the counter knows its period, so the decision is a lock and a few additions, no await.
        return counter.TryAcquire(tenant.Policy, now, cost, out var decision)
            ? new ValueTask<LimitDecision>(decision)
            : SeedThenAcquireAsync(tenant, counter, now, cost, cancellationToken);
    }

    public ValueTask<QuotaUsage> PeekAsync(TenantContext tenant, CancellationToken cancellationToken = default)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var counter = CounterOf(tenant.Id, now);
        return counter.TryPeek(tenant.Policy, now, out var usage)
            ? new ValueTask<QuotaUsage>(usage)
            : SeedThenPeekAsync(tenant, counter, now, cancellationToken);
    }

    public void Forget(long tenantId)
    {
        seeds.Forget(tenantId);
        _counters.TryRemove(tenantId, out _);
    }

    /// <summary>Drops every counter (used when this store stood in for Redis and Redis is back).</summary>
    public void ForgetAll()
    {
        foreach (var tenantId in _counters.Keys)
        {
            Forget(tenantId);
        }
    }

    private TenantCounter CounterOf(long tenantId, DateTime now) =>
        _counters.TryGetValue(tenantId, out var counter)
            ? counter
            : _counters.GetOrAdd(tenantId, static (_, createdAt) => new TenantCounter(createdAt), now);

    private async ValueTask<LimitDecision> SeedThenAcquireAsync(
        TenantContext tenant, TenantCounter counter, DateTime now, int cost, CancellationToken ct)
    {
        while (true)
        {
            await SeedAsync(tenant, counter, now, ct);
            if (counter.TryAcquire(tenant.Policy, now, cost, out var decision))
            {
                return decision;
            }
        }
    }

    private async ValueTask<QuotaUsage> SeedThenPeekAsync(
        TenantContext tenant, TenantCounter counter, DateTime now, CancellationToken ct)
    {
        while (true)
        {
            await SeedAsync(tenant, counter, now, ct);
            if (counter.TryPeek(tenant.Policy, now, out var usage))
            {
                return usage;
            }
        }
    }

    private async Task SeedAsync(TenantContext tenant, TenantCounter counter, DateTime now, CancellationToken ct)
    {
        var period = tenant.Policy.QuotaPeriod;
        var start = QuotaPeriods.StartOf(period, now);
        var used = await seeds.GetUsedAsync(tenant.Id, period, start, ct);
        counter.Seed(period, start, used);
    }

    /// <summary>One tenant's counts: the quota of the current period and the current rate window.</summary>
    private sealed class TenantCounter(DateTime createdAt)
    {
        private readonly Lock _gate = new();
        private bool _hasPeriod;
        private QuotaPeriod _period;
        private DateTime _periodStart;
        private DateTime _periodEnd;
        private long _used;
        private long _rateWindowStartTicks = -1;
        private int _rateCount;

        /// <summary>
        /// Decides one request of <paramref name="cost"/> units; false when the period must first be seeded from the
        /// database.
        /// </summary>
        public bool TryAcquire(LimitPolicy policy, DateTime now, int cost, out LimitDecision decision)
        {
            lock (_gate)
            {
                if (!TryEnterPeriod(policy.QuotaPeriod, now))
                {
                    decision = default;
                    return false;
                }

                var rateLimit = 0;
                var rateRemaining = 0;
                var rateResetAt = default(DateTime);
                if (policy.HasRate)
                {
                    var windowTicks = policy.RateWindowSeconds!.Value * TimeSpan.TicksPerSecond;
                    // Fixed windows aligned to the epoch: every instance (and Redis) agrees on the window
                    // boundaries without coordination.
                    var windowStart = now.Ticks - now.Ticks % windowTicks;
                    if (windowStart != _rateWindowStartTicks)
                    {
                        _rateWindowStartTicks = windowStart;
                        _rateCount = 0;
                    }

                    rateLimit = policy.RateLimit!.Value;
                    rateResetAt = new DateTime(windowStart + windowTicks, DateTimeKind.Utc);
                }

                LimitOutcome outcome;
                // Admitted only with room for all its units, so the quota is never overrun by a costly request.
                if (_used + cost > policy.QuotaLimit)
                {
                    outcome = LimitOutcome.QuotaExceeded;
                }
                else if (rateLimit > 0 && _rateCount + cost > rateLimit)
                {
                    outcome = LimitOutcome.RateLimited;
                }
                else
                {
                    outcome = LimitOutcome.Admitted;
                    _used += cost;
                    _rateCount += cost;
                }

                if (rateLimit > 0)
                {
                    rateRemaining = Math.Max(0, rateLimit - _rateCount);
                }

                decision = new LimitDecision(
                    outcome,
                    new QuotaUsage(_used, policy.QuotaLimit, _period, _periodStart, _periodEnd),
                    rateLimit,
                    rateLimit > 0 ? policy.RateWindowSeconds!.Value : 0,
                    rateRemaining,
                    rateResetAt);
                return true;
            }
        }

        public bool TryPeek(LimitPolicy policy, DateTime now, out QuotaUsage usage)
        {
            lock (_gate)
            {
                if (!TryEnterPeriod(policy.QuotaPeriod, now))
                {
                    usage = default;
                    return false;
                }

                usage = new QuotaUsage(_used, policy.QuotaLimit, _period, _periodStart, _periodEnd);
                return true;
            }
        }

        public void Seed(QuotaPeriod period, DateTime periodStart, long used)
        {
            lock (_gate)
            {
                // Another request may have seeded (and counted on top) meanwhile; its count is the newer one.
                if (_hasPeriod && _period == period && _periodStart == periodStart)
                {
                    return;
                }

                _hasPeriod = true;
                _period = period;
                _periodStart = periodStart;
                _periodEnd = QuotaPeriods.NextStart(period, periodStart);
                _used = used;
            }
        }

        /// <summary>
        /// Moves to the period containing <paramref name="now"/>. A period that began after this counter was
        /// created has nothing stored yet and starts at zero; an older one must be seeded.
        /// </summary>
        private bool TryEnterPeriod(QuotaPeriod period, DateTime now)
        {
            if (_hasPeriod && _period == period && now < _periodEnd && now >= _periodStart)
            {
                return true;
            }

            var start = QuotaPeriods.StartOf(period, now);
            if (start < createdAt)
            {
                return false;
            }

            _hasPeriod = true;
            _period = period;
            _periodStart = start;
            _periodEnd = QuotaPeriods.NextStart(period, start);
            _used = 0;
            return true;
        }
    }
}
