using Microsoft.Extensions.Time.Testing;
using Tollgate.Data;
using Tollgate.Keys;
using Tollgate.Limits;

namespace Tollgate.Core.Tests.Limits;

public sealed class InProcessLimitStoreTests
{
    private static readonly DateTimeOffset Start = new(2026, 3, 31, 23, 59, 0, TimeSpan.Zero);

    private static TenantContext Tenant(long quota, QuotaPeriod period = QuotaPeriod.Month, int? rate = null, int? window = null, long id = 1) =>
        new(id, "Acme", 1, "Plan", TenantStatus.Active, new LimitPolicy(quota, period, rate, window));

    private static (InProcessLimitStore Store, FakeTimeProvider Time, FakeSeeds Seeds) Create(DateTimeOffset? start = null)
    {
        var time = new FakeTimeProvider(start ?? Start);
        var seeds = new FakeSeeds();
        return (new InProcessLimitStore(time, seeds), time, seeds);
    }

    [Fact]
    public async Task Quota_UpToLimit_AdmitsThenRefusesWithQuotaExceeded()
    {
        var (store, _, _) = Create();
        var tenant = Tenant(3);
        for (var i = 1; i <= 3; i++)
        {
            var decision = await store.AcquireAsync(tenant);
            Assert.Equal(LimitOutcome.Admitted, decision.Outcome);
            Assert.Equal(i, decision.Quota.Used);
        }

        var refused = await store.AcquireAsync(tenant);
        Assert.Equal(LimitOutcome.QuotaExceeded, refused.Outcome);
        Assert.Equal(3, refused.Quota.Used);
        Assert.Equal(0, refused.Quota.Remaining);
    }

    [Fact]
    public async Task Cost_CountsUnits_AndRefusesWhenFewerUnitsAreLeftThanItCosts()
    {
        var (store, _, _) = Create();
        var tenant = Tenant(10, rate: 7, window: 60);

        var first = await store.AcquireAsync(tenant, 3);
        var second = await store.AcquireAsync(tenant, 3);
        var rateRefused = await store.AcquireAsync(tenant, 3);
        var single = await store.AcquireAsync(tenant, 1);

        Assert.Equal((LimitOutcome.Admitted, 3L, 4), (first.Outcome, first.Quota.Used, first.RateRemaining));
        Assert.Equal((LimitOutcome.Admitted, 6L, 1), (second.Outcome, second.Quota.Used, second.RateRemaining));
        Assert.Equal((LimitOutcome.RateLimited, 6L), (rateRefused.Outcome, rateRefused.Quota.Used));
        Assert.Equal((LimitOutcome.Admitted, 7L), (single.Outcome, single.Quota.Used));
    }

    [Fact]
    public async Task Cost_ConcurrentRequests_NeverAdmitMoreUnitsThanTheQuota()
    {
        var (store, _, _) = Create();
        var tenant = Tenant(100);
        var admitted = 0;
        await Parallel.ForEachAsync(Enumerable.Range(0, 200), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (_, ct) =>
        {
            if ((await store.AcquireAsync(tenant, 3, ct)).Admitted)
            {
                Interlocked.Increment(ref admitted);
            }
        });

        Assert.Equal(33, admitted);
        Assert.Equal(99, (await store.PeekAsync(tenant)).Used);
    }

    [Theory]
    [InlineData(QuotaPeriod.Minute, "2026-04-01T00:00:00Z")]
    [InlineData(QuotaPeriod.Hour, "2026-04-01T00:00:00Z")]
    [InlineData(QuotaPeriod.Day, "2026-04-01T00:00:00Z")]
    [InlineData(QuotaPeriod.Month, "2026-04-01T00:00:00Z")]
    public async Task Quota_PeriodRollsOver_CountStartsAgainAtTheUtcBoundary(QuotaPeriod period, string boundary)
    {
        var (store, time, _) = Create();
        var tenant = Tenant(1, period);
        Assert.True((await store.AcquireAsync(tenant)).Admitted);
        var refused = await store.AcquireAsync(tenant);
        Assert.False(refused.Admitted);
        Assert.Equal(DateTime.Parse(boundary, null, System.Globalization.DateTimeStyles.AdjustToUniversal), refused.Quota.ResetAt);

        time.SetUtcNow(DateTimeOffset.Parse(boundary, System.Globalization.CultureInfo.InvariantCulture));
        var next = await store.AcquireAsync(tenant);
        Assert.True(next.Admitted);
        Assert.Equal(1, next.Quota.Used);
    }

    [Fact]
    public async Task Quota_OneTickBeforeTheBoundary_StillCountsInTheOldPeriod()
    {
        var (store, time, _) = Create();
        var tenant = Tenant(1, QuotaPeriod.Month);
        Assert.True((await store.AcquireAsync(tenant)).Admitted);
        time.SetUtcNow(new DateTimeOffset(2026, 3, 31, 23, 59, 59, TimeSpan.Zero).AddTicks(9_999_999));
        Assert.Equal(LimitOutcome.QuotaExceeded, (await store.AcquireAsync(tenant)).Outcome);
    }

    [Fact]
    public async Task Quota_ConcurrentRequestsAtLimit_AdmitsExactlyLimit()
    {
        var (store, _, _) = Create();
        var tenant = Tenant(1000);
        var admitted = 0;
        await Parallel.ForAsync(0, 5000, new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (_, ct) =>
        {
            if ((await store.AcquireAsync(tenant, ct)).Admitted)
            {
                Interlocked.Increment(ref admitted);
            }
        });

        Assert.Equal(1000, admitted);
        Assert.Equal(1000, (await store.PeekAsync(tenant)).Used);
    }

    [Fact]
    public async Task Rate_WindowExhausted_RefusesWithRateLimitedUntilTheNextWindow()
    {
        var (store, time, _) = Create(new DateTimeOffset(2026, 5, 1, 12, 0, 0, TimeSpan.Zero));
        var tenant = Tenant(1000, rate: 2, window: 10);
        Assert.True((await store.AcquireAsync(tenant)).Admitted);
        time.Advance(TimeSpan.FromSeconds(3));
        var second = await store.AcquireAsync(tenant);
        Assert.True(second.Admitted);
        Assert.Equal(0, second.RateRemaining);

        var refused = await store.AcquireAsync(tenant);
        Assert.Equal(LimitOutcome.RateLimited, refused.Outcome);
        Assert.Equal(new DateTime(2026, 5, 1, 12, 0, 10, DateTimeKind.Utc), refused.RateResetAt);
        // A refusal is not counted against the quota.
        Assert.Equal(2, refused.Quota.Used);

        time.Advance(TimeSpan.FromSeconds(7));
        Assert.True((await store.AcquireAsync(tenant)).Admitted);
    }

    [Fact]
    public async Task QuotaExceeded_TakesPrecedenceOverRate()
    {
        var (store, _, _) = Create();
        var tenant = Tenant(1, rate: 1, window: 60);
        Assert.True((await store.AcquireAsync(tenant)).Admitted);
        Assert.Equal(LimitOutcome.QuotaExceeded, (await store.AcquireAsync(tenant)).Outcome);
    }

    [Fact]
    public async Task Seed_PeriodThatBeganBeforeTheStore_StartsFromTheStoredCount()
    {
        var (store, _, seeds) = Create();
        seeds.Values[(1, QuotaPeriod.Month, new DateTime(2026, 3, 1, 0, 0, 0, DateTimeKind.Utc))] = 999;
        var tenant = Tenant(1000);

        var last = await store.AcquireAsync(tenant);
        Assert.True(last.Admitted);
        Assert.Equal(1000, last.Quota.Used);
        Assert.Equal(LimitOutcome.QuotaExceeded, (await store.AcquireAsync(tenant)).Outcome);
        Assert.Equal(1, seeds.Reads);
    }

    [Fact]
    public async Task Seed_PeriodThatBeganAfterTheStore_StartsAtZeroWithoutReading()
    {
        var (store, time, seeds) = Create();
        var tenant = Tenant(10, QuotaPeriod.Minute);
        await store.AcquireAsync(tenant);
        var readsBefore = seeds.Reads;
        time.Advance(TimeSpan.FromMinutes(1));
        seeds.Values[(1, QuotaPeriod.Minute, QuotaPeriods.StartOf(QuotaPeriod.Minute, time.GetUtcNow().UtcDateTime))] = 7;
        Assert.Equal(1, (await store.AcquireAsync(tenant)).Quota.Used);
        Assert.Equal(readsBefore, seeds.Reads);
    }

    [Fact]
    public async Task Forget_MakesTheNextUseReloadTheStoredCount()
    {
        var (store, _, seeds) = Create();
        var tenant = Tenant(100);
        await store.AcquireAsync(tenant);
        seeds.Values[(1, QuotaPeriod.Month, new DateTime(2026, 3, 1, 0, 0, 0, DateTimeKind.Utc))] = 40;
        store.Forget(1);
        Assert.Equal(40, (await store.PeekAsync(tenant)).Used);
        Assert.Contains(1L, seeds.Forgotten);
    }

    [Fact]
    public async Task Peek_DoesNotCount()
    {
        var (store, _, _) = Create();
        var tenant = Tenant(5);
        await store.PeekAsync(tenant);
        await store.PeekAsync(tenant);
        Assert.Equal(0, (await store.PeekAsync(tenant)).Used);
    }

    [Fact]
    public async Task PlanChange_NewLimitAppliesToTheRunningCount()
    {
        var (store, _, _) = Create();
        await store.AcquireAsync(Tenant(10));
        await store.AcquireAsync(Tenant(10));
        Assert.Equal(LimitOutcome.QuotaExceeded, (await store.AcquireAsync(Tenant(2))).Outcome);
        Assert.True((await store.AcquireAsync(Tenant(3))).Admitted);
    }

    private sealed class FakeSeeds : IQuotaSeedSource
    {
        public Dictionary<(long, QuotaPeriod, DateTime), long> Values { get; } = [];

        public List<long> Forgotten { get; } = [];

        public int Reads { get; private set; }

        public ValueTask<long> GetUsedAsync(long tenantId, QuotaPeriod period, DateTime periodStart, CancellationToken ct)
        {
            Reads++;
            return new(Values.GetValueOrDefault((tenantId, period, periodStart)));
        }

        public ValueTask<long> GetSharedSeedAsync(long tenantId, QuotaPeriod period, DateTime periodStart, CancellationToken ct) =>
            throw new InvalidOperationException("The in-process store never asks for a shared seed.");

        public void Forget(long tenantId) => Forgotten.Add(tenantId);
    }
}
