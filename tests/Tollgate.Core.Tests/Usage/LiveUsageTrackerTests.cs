using Microsoft.Extensions.Time.Testing;
using Tollgate.Limits;
using Tollgate.Usage;

namespace Tollgate.Core.Tests.Usage;

public sealed class LiveUsageTrackerTests
{
    [Fact]
    public void Get_CountsOnlyTheLastSixtySeconds()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 29, 12, 0, 0, TimeSpan.Zero));
        var live = new LiveUsageTracker(time);
        var now = time.GetUtcNow().UtcDateTime;
        UsageEvent At(DateTime at, int status = 200, LimitOutcome outcome = LimitOutcome.Admitted) =>
            new(7, 1, at, "GET", "/api/v1/ping", status, 1_000, outcome, QuotaPeriod.Month, now);

        live.Record(At(now.AddSeconds(-70)));
        live.Record(At(now.AddSeconds(-30)));
        live.Record(At(now.AddSeconds(-10), status: 500));
        live.Record(At(now, status: 429, outcome: LimitOutcome.RateLimited));
        live.Record(At(now));

        var stats = live.StatsOf(7);
        Assert.Equal(4, stats.Requests);
        Assert.Equal(1, stats.Errors);
        Assert.Equal(1, stats.Rejected);
        Assert.Equal(0.25, stats.ErrorRate);
        Assert.NotNull(stats.P95LatencyMs);

        time.Advance(TimeSpan.FromSeconds(61));
        Assert.Equal(0, live.StatsOf(7).Requests);
        Assert.Equal(0, live.StatsOf(8).Requests);
    }

    [Fact]
    public void P95_OfTheLastMinute_IsWithin2PercentOfTheExactOne_AlsoSummedOverInstances()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 29, 12, 0, 0, TimeSpan.Zero));
        var now = time.GetUtcNow().UtcDateTime;
        var (a, b) = (new LiveUsageTracker(time), new LiveUsageTracker(time));
        var random = new Random(95);
        var latencies = new List<long>();
        // Long-tailed latencies over the last 50 seconds, on two instances; much slower requests just before the window.
        for (var i = 0; i < 20_000; i++)
        {
            var micros = (long)Math.Exp(7 + 0.8 * Normal(random));
            latencies.Add(micros);
            (i % 2 == 0 ? a : b).Record(new UsageEvent(7, 1, now.AddMilliseconds(-random.Next(50_000)), "GET", "/api/v1/ping", 200, micros, LimitOutcome.Admitted, QuotaPeriod.Month, now));
        }

        for (var i = 0; i < 5_000; i++)
        {
            a.Record(new UsageEvent(7, 1, now.AddSeconds(-61 - random.Next(30)), "GET", "/api/v1/ping", 200, 2_000_000, LimitOutcome.Admitted, QuotaPeriod.Month, now));
        }

        latencies.Sort();
        var exact = latencies[(int)Math.Ceiling(0.95 * latencies.Count) - 1] / 1000.0;
        var summed = a.ReadAll().Single().Counts.Plus(b.ReadAll().Single().Counts).ToStats();
        Assert.Equal(20_000, summed.Requests);
        Assert.InRange(summed.P95LatencyMs!.Value, exact * 0.98, exact * 1.02);
        Assert.InRange(a.StatsOf(7).P95LatencyMs!.Value, exact * 0.9, exact * 1.1);
    }

    private static double Normal(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
