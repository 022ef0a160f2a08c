using System.Net;
using Tollgate.Testing;
using Tollgate.Usage;

namespace Tollgate.Server.Tests.Usage;

/// <summary>
/// <c>Tollgate:Usage:RawLogs</c>: which requests get a raw <c>usage_logs</c> row. Roll-ups and quota counters count
/// every request in every mode.
/// </summary>
public sealed class RawLogPolicyTests
{
    [Fact]
    public async Task ErrorsAndRefusals_LogsOnlyThose_WhileRollupsAndCountersCountEveryRequest()
    {
        var (rows, rollups, used) = await RunAsync("ErrorsAndRefusals", sampleRate: null, admitted: 30);
        // 2 refusals (quota 31, 33 calls: the 32nd and 33rd) and 1 not-found answer of an admitted call.
        Assert.Equal(3, rows);
        Assert.Equal(33, rollups);
        Assert.Equal(31, used);
    }

    [Fact]
    public async Task Sample_KeepsAboutOneSuccessInN_AndEveryErrorAndRefusal()
    {
        var (rows, rollups, used) = await RunAsync("Sample", sampleRate: 4, admitted: 400);
        // 3 always kept; of 400 successes about 100 (binomial: 100 ± 8.7, the bounds are 6 standard deviations).
        Assert.InRange(rows - 3, 48, 152);
        Assert.Equal(403, rollups);
        Assert.Equal(401, used);
    }

    [Fact]
    public async Task All_IsTheDefault_AndLogsEveryRequest()
    {
        var (rows, rollups, _) = await RunAsync(null, sampleRate: null, admitted: 30);
        Assert.Equal(33, rows);
        Assert.Equal(33, rollups);
    }

    [Fact]
    public void TheDecision_IsAFunctionOfTheEvent_SoAReplayKeepsTheSameRows()
    {
        var options = new UsageOptions { RawLogs = RawLogPolicy.Sample, RawLogSampleRate = 3 };
        var at = new DateTime(2026, 11, 30, 12, 0, 0, DateTimeKind.Utc);
        var events = Enumerable.Range(0, 3000).Select(i => new UsageEvent(1, 7, at.AddTicks(i * 1_337), "GET", "/x", 200, 10,
            LimitOutcome.Admitted, QuotaPeriod.Month, new DateTime(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc))).ToArray();
        var first = events.Select(e => options.KeepsRawRow(e)).ToArray();
        Assert.Equal(first, events.Select(e => options.KeepsRawRow(e)));
        Assert.InRange(first.Count(k => k), 850, 1150);
        Assert.True(options.KeepsRawRow(events[0] with { StatusCode = 500 }));
        Assert.True(options.KeepsRawRow(events[0] with { Outcome = LimitOutcome.RateLimited, StatusCode = 429 }));
    }

    private static async Task<(long Rows, long Rollups, long Used)> RunAsync(string? policy, int? sampleRate, int admitted)
    {
        var settings = new Dictionary<string, string?>();
        if (policy is not null)
        {
            settings["Tollgate:Usage:RawLogs"] = policy;
        }

        if (sampleRate is { } rate)
        {
            settings["Tollgate:Usage:RawLogSampleRate"] = rate.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        var app = new TollgateApp(settings: settings);
        var tenant = await app.CreateTenantAsync(admitted + 1);
        using (var client = app.TenantClient(tenant.ApiKey))
        {
            for (var i = 0; i < admitted; i++)
            {
                Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/ping")).StatusCode);
            }

            Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/api/v1/users/999999999")).StatusCode);
            Assert.Equal(HttpStatusCode.TooManyRequests, (await client.GetAsync("/api/v1/ping")).StatusCode);
            Assert.Equal(HttpStatusCode.TooManyRequests, (await client.GetAsync("/api/v1/ping")).StatusCode);
        }

        // A graceful stop stores every queued event.
        var database = app.Database;
        await app.DisposeAsync();
        return (
            await database.ScalarAsync("SELECT COUNT(*) FROM usage_logs WHERE tenant_id = @t", ("@t", tenant.Id)),
            await database.ScalarAsync("SELECT SUM(count) FROM usage_rollups WHERE tenant_id = @t", ("@t", tenant.Id)),
            await database.ScalarAsync("SELECT SUM(used) FROM quota_counters WHERE tenant_id = @t", ("@t", tenant.Id)));
    }
}
