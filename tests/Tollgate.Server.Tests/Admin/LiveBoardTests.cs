using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Tollgate.Admin;
using Tollgate.Changes;
using Tollgate.Data;
using Tollgate.Keys;
using Tollgate.Limits;
using Tollgate.Testing;
using Tollgate.Usage;

namespace Tollgate.Server.Tests.Admin;

/// <summary>
/// The live board reads only the tenants that can have changed at each tick and brings the views' listings along by the
/// rows that changed. Every frame it makes must equal a pass over every tenant, in its rows, its totals and every view.
/// </summary>
public sealed class LiveBoardTests
{
    private static readonly DashboardView[] Views =
    [
        DashboardView.Default,
        new(DashboardSort.Usage, false, null, null, null, 0, 20),
        new(DashboardSort.Rpm, true, null, null, null, 0, 10),
        new(DashboardSort.P95, true, null, null, null, 60, 4),
        new(DashboardSort.P95, true, "Warning", null, null, 0, 10),
        new(DashboardSort.Errors, true, null, "1", null, 5, 10),
        new(DashboardSort.Name, true, null, null, "Small", 0, 50),
        new(DashboardSort.Plan, false, null, null, null, 100, 30),
        new(DashboardSort.Reset, false, "Blocked", null, null, 0, 50),
        new(DashboardSort.Status, true, null, null, null, 40, 40),
    ];

    [Fact]
    public async Task EveryTick_ReadsOnlyTheActiveTenants_AndEqualsAPassOverEveryTenant()
    {
        // Some minutes before a month ends: the steps cross into the next month, whose first tick resets every count.
        var monthEnd = new DateTimeOffset(2027, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var time = new FakeTimeProvider(monthEnd.AddMinutes(-12));
        await using var app = new TollgateApp(time: time);
        await BulkTenants.AddAsync(app, 1_500, "Large", "Large", 1_000_000);
        await BulkTenants.AddAsync(app, 500, "Small", "Small", 100);
        var services = app.Services;
        var board = services.GetRequiredService<LiveBoard>();
        // No pass over every tenant for time's sake: the others must come from what changed.
        board.FullPassInterval = TimeSpan.FromHours(1);
        var directory = services.GetRequiredService<TenantDirectory>();
        var limits = services.GetRequiredService<ILimitStore>();
        var live = services.GetRequiredService<LiveUsageTracker>();
        var changes = services.GetRequiredService<IChangeFeed>();
        var store = services.GetRequiredService<IUsageBatchStore>();
        var scope = new AdminScope("test", AdminRole.SuperAdmin, null);
        var tenants = directory.All;
        var random = new Random(17);

        var first = await board.FrameAsync(TimeSpan.Zero, CancellationToken.None);
        Assert.Equal(tenants.Count, board.LastPassTenants);
        foreach (var view in Views)
        {
            first.PageOf(scope, view); // Each view's listing is kept from here on.
        }

        var partial = 0;
        var blockedBefore = 0;
        for (var step = 0; step < 60; step++)
        {
            // A handful of tenants get traffic: some of the Small ones into Warning and Blocked, errors and latencies.
            // Once, a burst on 150 at a time: when they go quiet together they all leave the top of the p95 view, and its
            // listing has to be made again from every row.
            var busy = step == 20 ? 150 : 6;
            foreach (var tenant in Enumerable.Range(0, busy).Select(_ => tenants[random.Next(tenants.Count)]))
            {
                var cost = tenant.PlanName == "Small" ? 20 * random.Next(1, 6) : random.Next(1, 5_000);
                var decision = await limits.AcquireAsync(tenant, cost);
                var now = time.GetUtcNow().UtcDateTime;
                var status = random.Next(10) == 0 ? 500 : 200;
                live.Record(new UsageEvent(tenant.Id, 0, now, "GET", "/api/v1/ping", decision.Admitted ? status : 429,
                    random.Next(100, 90_000), decision.Outcome, decision.Quota.Period, decision.Quota.PeriodStart));
            }

            if (step % 7 == 3)
            {
                // Usage written straight to storage, then announced (as the demo setup does): the count changes without
                // any traffic in the last minute.
                var quiet = tenants[random.Next(tenants.Count)];
                var now = time.GetUtcNow().UtcDateTime;
                var batch = new UsageBatch();
                for (var i = 0; i < 3; i++)
                {
                    batch.Add(new UsageEvent(quiet.Id, 0, now.AddDays(-2 * i), "GET", "/api/v1/ping", 200, 1_000, LimitOutcome.Admitted,
                        QuotaPeriod.Month, QuotaPeriods.StartOf(QuotaPeriod.Month, now.AddDays(-2 * i))));
                }

                await store.WriteAsync(batch, CancellationToken.None);
                await changes.UsageRewrittenAsync(quiet.Id);
            }

            // Sometimes a moment, sometimes long enough for last-minute figures to go. Step 39 jumps to a second before
            // the month ends and step 40 a moment past it: only the period's end calls for reading every tenant then.
            var crossing = step == 40;
            if (step == 39)
            {
                time.SetUtcNow(monthEnd.AddSeconds(-1));
            }
            else
            {
                time.Advance(step % 5 == 4 ? TimeSpan.FromSeconds(40) : TimeSpan.FromMilliseconds(random.Next(1_100, 2_500)));
            }

            var frame = await board.FrameAsync(TimeSpan.Zero, CancellationToken.None);
            if (board.LastPassTenants < tenants.Count)
            {
                partial++;
                Assert.True(board.LastPassTenants <= (6 * 61) + 150 + 2, $"step {step}: the tick read {board.LastPassTenants} tenants");
            }

            if (crossing || step == 39)
            {
                // Step 39: minutes since the last frame, so the traffic of its start has gone quiet unseen; every tenant
                // is read. Step 40: the month's end.
                Assert.Equal(tenants.Count, board.LastPassTenants);
            }

            blockedBefore = Math.Max(blockedBefore, crossing || time.GetUtcNow() >= monthEnd ? 0 : frame.Totals.Blocked);

            using var fresh = ActivatorUtilities.CreateInstance<LiveBoard>(services);
            var whole = await fresh.FrameAsync(TimeSpan.Zero, CancellationToken.None);
            Assert.Equal(tenants.Count, fresh.LastPassTenants);
            Assert.Equal(whole.Rows, frame.Rows);
            Assert.Equal(whole.Totals, frame.Totals);
            foreach (var view in Views)
            {
                var expected = whole.PageOf(scope, view);
                var actual = frame.PageOf(scope, view);
                Assert.True(expected.Matched == actual.Matched, $"step {step}, {view}: {actual.Matched} matched, not {expected.Matched}");
                Assert.Equal(expected.Rows.Select(r => r.Id), actual.Rows.Select(r => r.Id));
            }
        }

        // Most ticks read only what could change (the others: the month's end, and a reload of the directory).
        Assert.True(partial >= 50, $"{partial} of 60 ticks read only the active tenants");
        Assert.True(blockedBefore >= 3, $"the steps made only {blockedBefore} tenants Blocked");
    }
}
