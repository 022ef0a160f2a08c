using System.Net;
using System.Net.Http.Json;
using Tollgate.Testing;

namespace Tollgate.Server.Tests.Gateway;

/// <summary>A costly gateway route on two instances sharing Redis: the Lua script counts units, still exactly.</summary>
[Collection(TwoInstances.Collection)]
public sealed class SharedGatewayLimitsTests
{
    [Fact]
    public async Task Cost3_200RequestsAcrossTwoInstancesAt64Way_Admit33_AndCount99UnitsEverywhere()
    {
        await using var upstream = await AspNetUpstream.StartAsync();
        await using var cluster = await TwoInstances.StartAsync();
        var tenant = await cluster.A.CreateTenantAsync(100, "Day");
        using (var admin = await cluster.A.AdminClientAsync())
        {
            (await admin.PostAsJsonAsync("/api/admin/routes", new { path = "/costly/{**rest}", upstream = upstream.Address, cost = 3 }))
                .EnsureSuccessStatusCode();
        }

        using (var onB = cluster.B.TenantClient(tenant.ApiKey))
        {
            // B learns of the route through the change feed; wait until it serves it (each try is refused or counted).
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while ((await onB.GetAsync("/costly/warm")).StatusCode == HttpStatusCode.NotFound && DateTime.UtcNow < deadline)
            {
                await Task.Delay(20);
            }
        }

        var clients = Enumerable.Range(0, 64).Select(i => (i % 2 == 0 ? cluster.A : cluster.B).TenantClient(tenant.ApiKey)).ToArray();
        var admitted = 0;
        await Parallel.ForAsync(0, 200, new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (i, ct) =>
        {
            using var response = await clients[i % 64].GetAsync($"/costly/{i}", ct);
            Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.TooManyRequests, $"{response.StatusCode}");
            if (response.StatusCode == HttpStatusCode.OK)
            {
                Interlocked.Increment(ref admitted);
            }
        });
        foreach (var client in clients)
        {
            client.Dispose();
        }

        // The warm-up request on B was admitted too (3 units): with it 33 requests fit in 100 units (99); a 34th would
        // make 102.
        Assert.Equal(32, admitted);
        Assert.Equal(33, upstream.CallsFor(tenant.Id));
        foreach (var app in new[] { cluster.A, cluster.B })
        {
            using var client = app.TenantClient(tenant.ApiKey);
            Assert.Equal(99, (await (await client.GetAsync("/api/v1/usage")).ReadJsonAsync()).GetProperty("used").GetInt64());
        }

        var stored = 0L;
        var until = DateTime.UtcNow.AddSeconds(15);
        while ((stored = await cluster.A.Database.ScalarAsync(
                   "SELECT COALESCE(SUM(used), 0) FROM quota_counters WHERE tenant_id = @t", ("@t", tenant.Id))) != 99
               && DateTime.UtcNow < until)
        {
            await Task.Delay(25);
        }

        Assert.Equal(99, stored);
    }
}
