using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.DependencyInjection;
using Tollgate.Metering;

namespace Tollgate.AspNetCore.Tests.Metering;

/// <summary><c>tollgate.metering.decisions</c>: each decision lands in its own series, however the calls interleave.</summary>
public sealed class MeteringMetricsTests
{
    [Fact]
    public void Decisions_InterleavedOnOneThread_AcrossRoutesTenantsAndTwoHosts_AreEachCountedInTheirOwnSeries()
    {
        // A thread remembers the series it counted last; every change below must make it look again.
        using var firstHost = new ServiceCollection().AddMetrics().BuildServiceProvider();
        using var secondHost = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var first = new MeteringMetrics(firstHost.GetRequiredService<IMeterFactory>(), new TelemetryOptions { PerTenantMetrics = true });
        var second = new MeteringMetrics(secondHost.GetRequiredService<IMeterFactory>(), new TelemetryOptions { PerTenantMetrics = true });
        var orders = Request("/orders/{id}");
        var users = Request("/users");
        // The same route text from another endpoint (GET and POST of one path): the same series.
        var usersAgain = Request("/users");

        // One thing changes from each call to the next: the host, the tenant, the decision, the route.
        first.Decided(orders, MeteringDecision.Admitted, 1);
        first.Decided(orders, MeteringDecision.Admitted, 1);
        second.Decided(orders, MeteringDecision.Admitted, 1);
        first.Decided(orders, MeteringDecision.Admitted, 1);
        first.Decided(orders, MeteringDecision.Admitted, 2);
        first.Decided(orders, MeteringDecision.Quota, 2);
        first.Decided(users, MeteringDecision.Quota, 2);
        first.Decided(usersAgain, MeteringDecision.Quota, 2);
        first.Decided(orders, MeteringDecision.Unauthorized);

        Assert.Equal(
            [
                ("/orders/{id}", "admitted", 1L, 3L), ("/orders/{id}", "admitted", 2L, 1L), ("/orders/{id}", "quota", 2L, 1L),
                ("/orders/{id}", "unauthorized", 0L, 1L), ("/users", "quota", 2L, 2L),
            ],
            Observe(firstHost.GetRequiredService<IMeterFactory>()));
        Assert.Equal([("/orders/{id}", "admitted", 1L, 1L)], Observe(secondHost.GetRequiredService<IMeterFactory>()));
    }

    private static DefaultHttpContext Request(string pattern)
    {
        var context = new DefaultHttpContext();
        context.SetEndpoint(new RouteEndpoint(_ => Task.CompletedTask, RoutePatternFactory.Parse(pattern), 0, EndpointMetadataCollection.Empty, pattern));
        return context;
    }

    /// <summary>The decisions' series of the meters one factory made, as (route, decision, tenant, count), sorted.</summary>
    private static List<(string? Route, string? Decision, long Tenant, long Count)> Observe(IMeterFactory factory)
    {
        var series = new List<(string?, string?, long, long)>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == MeteringMetrics.MeterName && instrument.Meter.Scope == factory)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            string? route = null, decision = null;
            long tenant = 0;
            foreach (var tag in tags)
            {
                switch (tag.Key)
                {
                    case "http.route": route = (string?)tag.Value; break;
                    case "tollgate.decision": decision = (string?)tag.Value; break;
                    case "tollgate.tenant.id": tenant = (long)tag.Value!; break;
                }
            }

            series.Add((route, decision, tenant, value));
        });
        listener.Start();
        listener.RecordObservableInstruments();
        return [.. series.Order()];
    }
}
