using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using Tollgate.Testing;

namespace Tollgate.Server.Tests.Gateway;

/// <summary>An existing API, in .NET or not, behind Tollgate: metered with the hosted endpoints' engine (CONTRACT §7).</summary>
public sealed class GatewayTests(GatewayFixture gateway) : IClassFixture<GatewayFixture>
{
    private readonly TollgateApp _app = gateway.App;

    [Fact]
    public async Task NoKey_Is401Problem_AndTheUpstreamIsNeverCalled()
    {
        var path = $"/shop/{Guid.NewGuid():N}";
        using var client = _app.CreateClient();

        var problem = await (await client.GetAsync(path)).ProblemAsync(401);

        Assert.Equal("Unauthorized", problem.GetProperty("title").GetString());
        Assert.Equal(0, gateway.AspNet.CallsTo(path));
    }

    [Fact]
    public async Task WithKey_AspNetUpstreamAnswers_WithTheTenantHeader_WithoutTheKey_AndWithTheLimitHeaders()
    {
        var tenant = await _app.CreateTenantAsync(100);
        using var client = _app.TenantClient(tenant.ApiKey);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/shop/orders/7?expand=lines");
        request.Headers.Add("X-Tollgate-Tenant-Id", "999999"); // A client's own copy must not reach the upstream.

        var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var echo = await response.ReadJsonAsync();
        Assert.Equal("aspnet", echo.GetProperty("server").GetString());
        Assert.Equal("/shop/orders/7", echo.GetProperty("path").GetString());
        Assert.Equal("?expand=lines", echo.GetProperty("query").GetString());
        var headers = echo.GetProperty("headers");
        Assert.Equal(tenant.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), headers.GetProperty("x-tollgate-tenant-id").GetString());
        Assert.False(headers.TryGetProperty("x-api-key", out _));
        Assert.Equal("100", response.Headers.GetValues("X-RateLimit-Limit").Single());
        Assert.Equal("99", response.Headers.GetValues("X-RateLimit-Remaining").Single());
    }

    [Fact]
    public async Task WithKey_PythonUpstreamAnswers_WithTheTenantHeader_AndWithoutTheKey()
    {
        var tenant = await _app.CreateTenantAsync(100);
        using var client = _app.TenantClient(tenant.ApiKey);

        var response = await client.GetAsync("/py/reports/latest");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var echo = await response.ReadJsonAsync();
        Assert.Equal("python", echo.GetProperty("server").GetString());
        Assert.Equal("/py/reports/latest", echo.GetProperty("path").GetString());
        Assert.Equal(tenant.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), echo.GetProperty("tenant").GetString());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, echo.GetProperty("apiKey").ValueKind);
    }

    [Fact]
    public async Task Quota50_80RequestsAt16Way_Admits50_AndThePythonUpstreamSawExactly50()
    {
        var tenant = await _app.CreateTenantAsync(50, "Day");
        var clients = Enumerable.Range(0, 16).Select(_ => _app.TenantClient(tenant.ApiKey)).ToArray();
        var admitted = 0;
        var refused = 0;

        await Parallel.ForEachAsync(Enumerable.Range(0, 80), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, ct) =>
        {
            using var response = await clients[i % 16].GetAsync($"/py/items/{i}", ct);
            if (response.StatusCode == HttpStatusCode.OK)
            {
                Interlocked.Increment(ref admitted);
            }
            else if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                Interlocked.Increment(ref refused);
            }
        });

        Assert.Equal(50, admitted);
        Assert.Equal(30, refused);
        Assert.Equal(50, await gateway.Python.CallsForAsync(tenant.Id));
        await WaitForRowsAsync(tenant.Id, 80);
        Assert.Equal(50, await _app.Database.ScalarAsync(
            "SELECT COUNT(*) FROM usage_logs WHERE tenant_id = @t AND outcome = 'Admitted' AND endpoint = '/py/{**rest}'", ("@t", tenant.Id)));
        foreach (var client in clients)
        {
            client.Dispose();
        }
    }

    [Fact]
    public async Task QuotaUsedUp_Is429PlanLimitExceeded_AndTheUpstreamIsNotCalled()
    {
        var tenant = await _app.CreateTenantAsync(1, "Day");
        using var client = _app.TenantClient(tenant.ApiKey);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/shop/a")).StatusCode);

        var response = await client.GetAsync("/shop/a");

        var problem = await response.ProblemAsync(429);
        Assert.Equal("Plan Limit Exceeded", problem.GetProperty("title").GetString());
        Assert.True(response.Headers.Contains("Retry-After"));
        Assert.Equal(1, gateway.AspNet.CallsFor(tenant.Id));
    }

    [Fact]
    public async Task Cost3_CountsThreeUnitsPerAdmittedRequest_AndRefusesWhenFewerAreLeft()
    {
        var tenant = await _app.CreateTenantAsync(10, "Day");
        using var client = _app.TenantClient(tenant.ApiKey);
        var remaining = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var response = await client.GetAsync("/costly/x");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            remaining.Add(response.Headers.GetValues("X-RateLimit-Remaining").Single());
        }

        await (await client.GetAsync("/costly/x")).ProblemAsync(429);
        Assert.Equal(["7", "4", "1"], remaining);
        Assert.Equal(3, gateway.AspNet.CallsFor(tenant.Id));
        await WaitForRowsAsync(tenant.Id, 4);
        var usage = await (await client.GetAsync("/api/v1/usage")).ReadJsonAsync();
        Assert.Equal(9, usage.GetProperty("used").GetInt64());
    }

    [Fact]
    public async Task UnmeteredRoute_PassesWithoutAKey_AndIsCountedNowhere()
    {
        var path = $"/public/{Guid.NewGuid():N}";
        var before = await _app.Database.ScalarAsync("SELECT COUNT(*) FROM usage_logs WHERE endpoint = '/public/{**rest}'");
        using var client = _app.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Add("X-Tollgate-Tenant-Id", "42");

        var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False((await response.ReadJsonAsync()).GetProperty("headers").TryGetProperty("x-tollgate-tenant-id", out _));
        Assert.False(response.Headers.Contains("X-RateLimit-Limit"));
        Assert.Equal(1, gateway.AspNet.CallsTo(path));
        Assert.Equal(before, await _app.Database.ScalarAsync("SELECT COUNT(*) FROM usage_logs WHERE endpoint = '/public/{**rest}'"));
    }

    [Fact]
    public async Task UpstreamsOwnEmpty404_ReachesTheClientUnchanged_AndIsRecordedAsAnError()
    {
        var tenant = await _app.CreateTenantAsync(100);
        using var client = _app.TenantClient(tenant.ApiKey);

        var response = await client.GetAsync("/shop/missing");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
        Assert.Equal("99", response.Headers.GetValues("X-RateLimit-Remaining").Single());
        await WaitForRowsAsync(tenant.Id, 1);
        Assert.Equal(1, await _app.Database.ScalarAsync(
            "SELECT COUNT(*) FROM usage_logs WHERE tenant_id = @t AND status_code = 404 AND outcome = 'Admitted'", ("@t", tenant.Id)));
    }

    [Fact]
    public async Task UpstreamDown_Is502Problem_RecordedInUsageLogsWithTheRoutePattern()
    {
        var tenant = await _app.CreateTenantAsync(100);
        using var client = _app.TenantClient(tenant.ApiKey);

        var problem = await (await client.GetAsync("/down/anything")).ProblemAsync(502);

        Assert.Equal("Bad Gateway", problem.GetProperty("title").GetString());
        await WaitForRowsAsync(tenant.Id, 1);
        var row = Assert.Single(await _app.Database.QueryAsync(
            "SELECT status_code, endpoint, outcome FROM usage_logs WHERE tenant_id = @t", ("@t", tenant.Id)));
        Assert.Equal(502L, Convert.ToInt64(row["status_code"], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("/down/{**rest}", row["endpoint"]);
        Assert.Equal("Admitted", row["outcome"]);
    }

    [Fact]
    public async Task UpstreamShare_OfTheLatency_IsRecordedBesideTheTotal()
    {
        var tenant = await _app.CreateTenantAsync(100);
        using var client = _app.TenantClient(tenant.ApiKey);

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/shop/sleep?ms=120")).StatusCode);

        await WaitForRowsAsync(tenant.Id, 1);
        var stored = Assert.Single(await _app.Database.QueryAsync(
            "SELECT latency_micros, upstream_latency_micros FROM usage_logs WHERE tenant_id = @t", ("@t", tenant.Id)));
        var total = Convert.ToInt64(stored["latency_micros"], System.Globalization.CultureInfo.InvariantCulture);
        var upstream = Convert.ToInt64(stored["upstream_latency_micros"], System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(upstream, 120_000, total);
        Assert.Equal(upstream, await _app.Database.ScalarAsync(
            "SELECT SUM(upstream_latency_sum_micros) FROM usage_rollups WHERE tenant_id = @t", ("@t", tenant.Id)));

        using var admin = await _app.AdminClientAsync();
        var endpoints = await (await admin.GetAsync($"/api/admin/usage/endpoints?tenantId={tenant.Id}")).ReadJsonAsync();
        var row = Assert.Single(endpoints.GetProperty("endpoints").EnumerateArray());
        Assert.Equal("/shop/{**rest}", row.GetProperty("endpoint").GetString());
        Assert.Equal(Math.Round(total / 1000.0, 3), row.GetProperty("meanMs").GetDouble());
        Assert.Equal(Math.Round((total - upstream) / 1000.0, 3), row.GetProperty("ownMeanMs").GetDouble());
    }

    [Fact]
    public async Task StreamedResponse_ReachesTheClientChunkByChunk_Unchanged()
    {
        var tenant = await _app.CreateTenantAsync(100);
        using var client = _app.TenantClient(tenant.ApiKey);
        var id = Guid.NewGuid().ToString("N");

        using var response = await client.GetAsync($"/shop/stream?id={id}", HttpCompletionOption.ResponseHeadersRead);
        await using var body = await response.Content.ReadAsStreamAsync();
        using var reader = new StreamReader(body);

        // The upstream holds its second chunk until the first has reached the client: a proxy that buffered the
        // answer would never deliver the first line (the guard turns that hang into a failure).
        Assert.Equal("first-chunk", await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(20)));
        gateway.AspNet.ReleaseStream(id);
        Assert.Equal("second-chunk", await reader.ReadLineAsync());
        Assert.Null(await reader.ReadLineAsync());
    }

    [Fact]
    public async Task RequestBody_OfAMegabyte_ReachesTheUpstreamUnchanged()
    {
        var tenant = await _app.CreateTenantAsync(100);
        using var client = _app.TenantClient(tenant.ApiKey);
        var payload = RandomNumberGenerator.GetBytes(1 << 20);

        // A stream, so the request body goes out chunked rather than with a length known in advance.
        using var content = new StreamContent(new MemoryStream(payload));
        var answer = await (await client.PostAsync("/shop/upload", content)).ReadJsonAsync();

        Assert.Equal(payload.Length, answer.GetProperty("length").GetInt64());
        Assert.Equal(Convert.ToHexString(SHA256.HashData(payload)), answer.GetProperty("sha256").GetString());
    }

    private async Task WaitForRowsAsync(long tenantId, long rows)
    {
        // The writer stores events off the request path; give it a moment (it writes within milliseconds).
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (await _app.Database.ScalarAsync("SELECT COUNT(*) FROM usage_logs WHERE tenant_id = @t", ("@t", tenantId)) < rows
               && DateTime.UtcNow < deadline)
        {
            await Task.Delay(25);
        }
    }
}
