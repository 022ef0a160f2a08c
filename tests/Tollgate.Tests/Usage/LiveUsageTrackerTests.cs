using Microsoft.Extensions.Time.Testing;
using Tollgate.Limits;
using Tollgate.Usage;

namespace Tollgate.Tests.Usage;

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
}
