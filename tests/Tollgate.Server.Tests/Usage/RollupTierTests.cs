using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Tollgate.Testing;
using Tollgate.Usage;

namespace Tollgate.Server.Tests.Usage;

/// <summary>
/// Percentiles from every roll-up tier, through <c>/api/admin/usage</c>, against the exact percentiles of the raw rows
/// that made them: within 2 % for several distributions (issue 13), with exact counts.
/// </summary>
public sealed class RollupTierTests
{
    [Theory]
    [InlineData("lognormal")]
    [InlineData("bimodal")]
    [InlineData("pareto")]
    public async Task Percentiles_AtEveryTier_AreWithin2PercentOfTheRawRows(string distribution)
    {
        await using var app = new TollgateApp();
        var tenant = await app.CreateTenantAsync(10_000_000);
        // Two days ending at a day boundary, 24,000 requests: 500 a hour, spread over the minutes, written as the
        // usage writer would, in batches that each span a few minutes.
        var end = DateTime.UtcNow.Date;
        var start = end.AddDays(-2);
        var latencies = LatencySamples.Sample(distribution, 24_000, seed: distribution.Length);
        var events = latencies.Select((latency, i) => (At: start.AddSeconds(i * 7.2), Latency: latency)).ToArray();
        var store = app.Services.GetRequiredService<IUsageBatchStore>();
        foreach (var chunk in events.Chunk(300))
        {
            var batch = new UsageBatch();
            foreach (var (at, latency) in chunk)
            {
                batch.Add(new UsageEvent(tenant.Id, tenant.KeyId, at, "GET", "/api/v1/users/{id}", 200, latency,
                    LimitOutcome.Admitted, QuotaPeriod.Month, QuotaPeriods.StartOf(QuotaPeriod.Month, at)));
            }

            await store.WriteAsync(batch, CancellationToken.None);
        }

        using var admin = await app.AdminClientAsync();
        var checkedPoints = 0;
        foreach (var (bucket, from, to, length) in new[]
        {
            ("day", start, end, TimeSpan.FromDays(1)),
            ("hour", start.AddHours(20), start.AddHours(30), TimeSpan.FromHours(1)),
            ("minute", start.AddHours(25), start.AddHours(26), TimeSpan.FromMinutes(1)),
        })
        {
            var series = await (await admin.GetAsync(
                $"/api/admin/usage?tenantId={tenant.Id}&bucket={bucket}&from={from:O}&to={to:O}")).ReadJsonAsync();
            foreach (var point in series.GetProperty("points").EnumerateArray())
            {
                var at = point.GetProperty("start").GetDateTime().ToUniversalTime();
                var raw = events.Where(e => e.At >= at && e.At < at + length).Select(e => e.Latency).Order().ToArray();
                Assert.Equal(raw.Length, point.GetProperty("requests").GetInt64());
                if (raw.Length == 0)
                {
                    continue;
                }

                foreach (var (name, p) in new[] { ("p50Ms", 50.0), ("p95Ms", 95.0), ("p99Ms", 99.0) })
                {
                    var exact = LatencySamples.ExactPercentileMs(raw, p);
                    var reported = point.GetProperty(name).GetDouble();
                    Assert.True(Math.Abs(reported - exact) <= exact * 0.02,
                        $"{bucket} {at.ToString("O", CultureInfo.InvariantCulture)} {name}: raw rows {exact} ms, reported {reported} ms");
                }

                checkedPoints++;
            }
        }

        // 2 days, 10 hours, 60 minutes.
        Assert.Equal(72, checkedPoints);
    }
}
