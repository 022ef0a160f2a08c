using Tollgate.Limits;
using Tollgate.Usage;

namespace Tollgate.Core.Tests.Usage;

public sealed class UsageBatchTests
{
    private static readonly DateTime Month = new(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc);

    private static UsageEvent Event(long tenant, long key, DateTime at, int status = 200, long latency = 700, LimitOutcome outcome = LimitOutcome.Admitted) =>
        new(tenant, key, at, "GET", "/api/v1/users/{id}", status, latency, outcome, QuotaPeriod.Month, Month);

    [Fact]
    public void KeyUses_AreGathered_ThenMovedIntoBatchesInIdOrder_ByAtMostTheGivenNumber()
    {
        var pending = new PendingKeyUses();
        var t0 = new DateTime(2026, 11, 29, 10, 0, 5, DateTimeKind.Utc);
        var first = new UsageBatch { KeyUses = pending };
        first.Add(Event(1, 900, t0));
        first.Add(Event(1, 10, t0.AddSeconds(3)));
        first.Add(Event(1, 10, t0.AddSeconds(1)));
        first.Add(Event(1, 5_000_000, t0));
        first.Add(Event(1, 1L << 40, t0));
        Assert.Empty(first.KeysLastUsed);
        Assert.Equal(4, pending.Count);

        pending.Begin();
        var second = new UsageBatch { KeyUses = pending };
        pending.MoveTo(second, 2);
        Assert.Equal([10L, 900L], second.KeysLastUsed.Keys.Order());
        Assert.All(second.KeysLastUsed.Values, at => Assert.Equal(t0.AddSeconds(3), at));
        Assert.True(pending.Writing);

        // Used again behind the write's position: waits for the next write; ahead of it: goes with this one.
        var third = new UsageBatch { KeyUses = pending };
        third.Add(Event(1, 10, t0.AddSeconds(9)));
        pending.MoveTo(third, 10);
        Assert.Equal([5_000_000L, 1L << 40], third.KeysLastUsed.Keys.Order());
        Assert.False(pending.Writing);
        Assert.Equal(1, pending.Count);

        pending.Begin();
        var fourth = new UsageBatch { KeyUses = pending };
        pending.MoveTo(fourth, 10);
        Assert.Equal(t0.AddSeconds(9), fourth.KeysLastUsed[10]);
        Assert.Equal(0, pending.Count);
    }

    [Fact]
    public void Add_FoldsEventsIntoMinuteRollups_QuotaIncrementsAndLastUse()
    {
        var batch = new UsageBatch();
        var t0 = new DateTime(2026, 11, 29, 10, 15, 5, DateTimeKind.Utc);
        batch.Add(Event(1, 10, t0));
        batch.Add(Event(1, 10, t0.AddSeconds(30), latency: 30_000));
        batch.Add(Event(1, 11, t0.AddSeconds(60)));
        batch.Add(Event(1, 10, t0.AddSeconds(1), status: 429, outcome: LimitOutcome.QuotaExceeded));
        batch.Add(Event(2, 20, t0));

        Assert.Equal(5, batch.Count);
        var minute = new DateTime(2026, 11, 29, 10, 15, 0, DateTimeKind.Utc);
        var first = batch.Rollups[new RollupKey(1, minute, "GET", "/api/v1/users/{id}", 200, LimitOutcome.Admitted)];
        Assert.Equal(2, first.Count);
        Assert.Equal(30_700, first.LatencySumMicros);
        Assert.Equal(2, first.Latency.Count);
        Assert.Equal(0.7, first.Latency.PercentileMs(50)!.Value, 0.007);
        Assert.Equal(30, first.Latency.PercentileMs(100)!.Value, 0.3);
        Assert.Equal(1, batch.Rollups[new RollupKey(1, minute.AddMinutes(1), "GET", "/api/v1/users/{id}", 200, LimitOutcome.Admitted)].Count);
        Assert.Equal(4, batch.Rollups.Count);

        // Refused requests are logged but never counted against the quota.
        Assert.Equal(new QuotaIncrement(3, 0), batch.QuotaIncrements[new QuotaKey(1, QuotaPeriod.Month, Month)]);
        Assert.Equal(new QuotaIncrement(1, 0), batch.QuotaIncrements[new QuotaKey(2, QuotaPeriod.Month, Month)]);
        Assert.Equal(t0.AddSeconds(30), batch.KeysLastUsed[10]);

        batch.Clear();
        Assert.Equal(0, batch.Count);
        Assert.Empty(batch.Rollups);
    }

    [Fact]
    public void Add_EventsThatChangeOneFieldAtATime_EachCountInTheirOwnRollupRow_AndEqualRoutesShareOne()
    {
        // The batch remembers the row its last event went to; any field that differs must send the next one elsewhere.
        var batch = new UsageBatch();
        var t0 = new DateTime(2026, 11, 29, 10, 15, 5, DateTimeKind.Utc);
        var minute = new DateTime(2026, 11, 29, 10, 15, 0, DateTimeKind.Utc);
        UsageEvent At(long tenant = 1, int second = 0, string method = "GET", string endpoint = "/a", int status = 200,
            LimitOutcome outcome = LimitOutcome.Admitted) =>
            new(tenant, 10, t0.AddSeconds(second), method, endpoint, status, 100, outcome, QuotaPeriod.Month, Month);

        // A route text equal to "/a" but another string object, as two endpoints of one pattern give.
        var sameRoute = new string("/a".AsSpan());
        foreach (var e in new[]
        {
            At(), At(), At(tenant: 2), At(), At(second: 60), At(), At(method: "POST"), At(), At(endpoint: "/b"), At(),
            At(status: 500), At(), At(status: 429, outcome: LimitOutcome.RateLimited), At(status: 429, outcome: LimitOutcome.QuotaExceeded),
            At(endpoint: sameRoute), At(),
        })
        {
            batch.Add(e);
        }

        RollupKey Key(long tenant = 1, int minutes = 0, string method = "GET", string endpoint = "/a", int status = 200,
            LimitOutcome outcome = LimitOutcome.Admitted) => new(tenant, minute.AddMinutes(minutes), method, endpoint, status, outcome);
        Assert.Equal(
            new Dictionary<RollupKey, long>
            {
                [Key()] = 9, [Key(tenant: 2)] = 1, [Key(minutes: 1)] = 1, [Key(method: "POST")] = 1, [Key(endpoint: "/b")] = 1,
                [Key(status: 500)] = 1, [Key(status: 429, outcome: LimitOutcome.RateLimited)] = 1,
                [Key(status: 429, outcome: LimitOutcome.QuotaExceeded)] = 1,
            },
            batch.Rollups.ToDictionary(r => r.Key, r => r.Value.Count));
        Assert.Equal(new QuotaIncrement(13, 0), batch.QuotaIncrements[new QuotaKey(1, QuotaPeriod.Month, Month)]);

        // After Clear the remembered row is gone with the rows.
        batch.Clear();
        batch.Add(At());
        Assert.Equal(1, Assert.Single(batch.Rollups).Value.Count);
    }

    [Fact]
    public void Add_CountsAdmissionsMadeWhileRedisWasAwayAsUnshared_AndAddSharedTakesThemBack()
    {
        var batch = new UsageBatch();
        var t0 = new DateTime(2026, 11, 29, 10, 15, 5, DateTimeKind.Utc);
        batch.Add(Event(1, 10, t0));
        batch.Add(Event(1, 10, t0) with { Unshared = true });
        batch.Add(Event(1, 10, t0, status: 429, outcome: LimitOutcome.QuotaExceeded) with { Unshared = true });
        var key = new QuotaKey(1, QuotaPeriod.Month, Month);
        Assert.Equal(new QuotaIncrement(2, 1), batch.QuotaIncrements[key]);

        batch.AddShared(key, 5);
        Assert.Equal(new QuotaIncrement(2, -4), batch.QuotaIncrements[key]);
        batch.AddShared(new QuotaKey(2, QuotaPeriod.Day, Month), 3);
        Assert.Equal(new QuotaIncrement(0, -3), batch.QuotaIncrements[new QuotaKey(2, QuotaPeriod.Day, Month)]);
    }
}
