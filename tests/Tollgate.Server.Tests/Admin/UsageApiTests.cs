using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Tollgate.Data;
using Tollgate.Limits;
using Tollgate.Testing;
using Tollgate.Usage;

namespace Tollgate.Server.Tests.Admin;

/// <summary>
/// <c>/api/admin/usage</c>, its breakdowns and <c>/api/admin/logs</c>, on a real SQLite file, with traffic written
/// at chosen times through the same batch store the usage writer uses.
/// </summary>
public sealed class UsageApiTests : IAsyncLifetime
{
    // A fixed past hour, so the series does not depend on the clock.
    private static readonly DateTime T0 = new(2026, 3, 10, 10, 0, 0, DateTimeKind.Utc);

    private readonly TollgateApp _app = new();
    private HttpClient _admin = null!;
    private TestTenant _tenant = null!;

    public async Task InitializeAsync()
    {
        _admin = await _app.AdminClientAsync();
        _tenant = await _app.CreateTenantAsync(quota: 1_000_000);
    }

    public async Task DisposeAsync()
    {
        _admin.Dispose();
        await _app.DisposeAsync();
    }

    [Fact]
    public async Task Usage_MinuteBuckets_CountRequestsErrorsAndRejectedPerMinute()
    {
        await WriteAsync(
            Event(T0.AddSeconds(1), 200, 800),
            Event(T0.AddSeconds(2), 200, 900),
            Event(T0.AddSeconds(3), 201, 1_000),
            Event(T0.AddSeconds(4), 500, 40_000),
            Event(T0.AddMinutes(1).AddSeconds(5), 429, 30, LimitOutcome.QuotaExceeded),
            Event(T0.AddMinutes(1).AddSeconds(6), 429, 30, LimitOutcome.RateLimited));

        var series = await GetJsonAsync($"/api/admin/usage?tenantId={_tenant.Id}&from={Iso(T0)}&to={Iso(T0.AddMinutes(3))}&bucket=minute");

        Assert.Equal("minute", series.GetProperty("bucket").GetString());
        var points = series.GetProperty("points").EnumerateArray().ToList();
        Assert.Equal(3, points.Count);
        Assert.Equal(T0, points[0].GetProperty("start").GetDateTime().ToUniversalTime());
        AssertPoint(points[0], requests: 4, errors: 1, rejected: 0);
        AssertPoint(points[1], requests: 2, errors: 0, rejected: 2);
        AssertPoint(points[2], requests: 0, errors: 0, rejected: 0);
        Assert.Equal(JsonValueKind.Null, points[2].GetProperty("p50Ms").ValueKind);

        // Three of four answers took at most 1 ms, the fourth 40 ms: p50 sits in the 0.5–1 ms bucket, p99 in 25–50 ms.
        var p50 = points[0].GetProperty("p50Ms").GetDouble();
        var p99 = points[0].GetProperty("p99Ms").GetDouble();
        Assert.InRange(p50, 0.5, 1.0);
        Assert.InRange(p99, 25, 50);
        Assert.True(points[0].GetProperty("p95Ms").GetDouble() <= p99);
    }

    [Fact]
    public async Task Usage_HourAndDayBuckets_AddUpTheMinutesInsideThem()
    {
        await WriteAsync(
            Event(T0.AddMinutes(5), 200, 500),
            Event(T0.AddMinutes(59), 404, 500),
            Event(T0.AddHours(1).AddMinutes(30), 200, 500),
            Event(T0.AddDays(1), 200, 500));

        var hours = await GetJsonAsync($"/api/admin/usage?tenantId={_tenant.Id}&from={Iso(T0)}&to={Iso(T0.AddHours(3))}&bucket=hour");
        var hourPoints = hours.GetProperty("points").EnumerateArray().ToList();
        Assert.Equal(3, hourPoints.Count);
        AssertPoint(hourPoints[0], requests: 2, errors: 1, rejected: 0);
        AssertPoint(hourPoints[1], requests: 1, errors: 0, rejected: 0);
        Assert.Equal(T0.AddHours(1), hourPoints[1].GetProperty("start").GetDateTime().ToUniversalTime());

        var days = await GetJsonAsync($"/api/admin/usage?tenantId={_tenant.Id}&from={Iso(T0.Date)}&to={Iso(T0.Date.AddDays(2))}&bucket=day");
        var dayPoints = days.GetProperty("points").EnumerateArray().ToList();
        Assert.Equal(2, dayPoints.Count);
        AssertPoint(dayPoints[0], requests: 3, errors: 1, rejected: 0);
        AssertPoint(dayPoints[1], requests: 1, errors: 0, rejected: 0);
    }

    [Fact]
    public async Task Usage_IsAnsweredFromRollups_NotFromTheRawLog()
    {
        await WriteAsync(Event(T0.AddSeconds(10), 200, 500), Event(T0.AddSeconds(20), 200, 500));
        await _app.Database.ExecuteAsync("DELETE FROM usage_log_entries WHERE tenant_id = @t", ("@t", _tenant.Id));

        var series = await GetJsonAsync($"/api/admin/usage?tenantId={_tenant.Id}&from={Iso(T0)}&to={Iso(T0.AddMinutes(1))}&bucket=minute");

        AssertPoint(series.GetProperty("points")[0], requests: 2, errors: 0, rejected: 0);
    }

    [Fact]
    public async Task Usage_WithoutBucket_PicksOneThatFitsTheRange()
    {
        var hour = await GetJsonAsync($"/api/admin/usage?tenantId={_tenant.Id}&from={Iso(T0)}&to={Iso(T0.AddHours(1))}");
        var week = await GetJsonAsync($"/api/admin/usage?tenantId={_tenant.Id}&from={Iso(T0)}&to={Iso(T0.AddDays(7))}");
        var month = await GetJsonAsync($"/api/admin/usage?tenantId={_tenant.Id}&from={Iso(T0)}&to={Iso(T0.AddDays(30))}");

        Assert.Equal("minute", hour.GetProperty("bucket").GetString());
        Assert.Equal(60, hour.GetProperty("points").GetArrayLength());
        Assert.Equal("hour", week.GetProperty("bucket").GetString());
        Assert.Equal(168, week.GetProperty("points").GetArrayLength());
        Assert.Equal("day", month.GetProperty("bucket").GetString());
        // Days are UTC-aligned: 30 days from 10:00 touch 31 of them.
        Assert.Equal(31, month.GetProperty("points").GetArrayLength());
    }

    [Fact]
    public async Task Usage_WithoutRange_CoversTheLastDay()
    {
        var series = await GetJsonAsync($"/api/admin/usage?tenantId={_tenant.Id}&bucket=hour");

        var points = series.GetProperty("points").GetArrayLength();
        Assert.InRange(points, 24, 25);
        Assert.InRange(series.GetProperty("to").GetDateTime().ToUniversalTime(), DateTime.UtcNow.AddMinutes(-1), DateTime.UtcNow.AddMinutes(1));
    }

    [Theory]
    [InlineData("bucket=week")]
    [InlineData("from=yesterday")]
    [InlineData("to=2026-13-45")]
    [InlineData("from=2026-03-10T12:00:00Z&to=2026-03-10T11:00:00Z")]
    [InlineData("from=2026-03-10T12:00:00Z&to=2026-03-10T12:00:00Z")]
    [InlineData("tenantId=abc")]
    [InlineData("tenantId=-1")]
    [InlineData("from=0001-01-01T00:00:00Z&to=9999-12-31T23:59:59Z&bucket=minute")]
    [InlineData("from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z&bucket=minute")]
    [InlineData("bucket=minute&bucket=hour")]
    public async Task Usage_BadInput_Is400ProblemJson(string query)
    {
        var response = await _admin.GetAsync("/api/admin/usage?" + query);

        await AssertProblemAsync(response, HttpStatusCode.BadRequest);
    }

    [Theory]
    [InlineData("/api/admin/usage/endpoints?from=nope")]
    [InlineData("/api/admin/usage/status-codes?to=nope")]
    [InlineData("/api/admin/logs?limit=0")]
    [InlineData("/api/admin/logs?limit=5000")]
    [InlineData("/api/admin/logs?limit=ten")]
    [InlineData("/api/admin/logs?cursor=abc")]
    [InlineData("/api/admin/logs?cursor=-5")]
    [InlineData("/api/admin/logs?cursor=5-")]
    [InlineData("/api/admin/logs?cursor=99999999999999999999-5")]
    [InlineData("/api/admin/logs?cursor=638000000000000000-0")]
    [InlineData("/api/admin/logs?from=2026-03-10T12:00:00Z&to=2026-03-10T11:00:00Z")]
    public async Task Breakdowns_AndLogs_BadInput_Is400ProblemJson(string url)
    {
        var response = await _admin.GetAsync(url);

        await AssertProblemAsync(response, HttpStatusCode.BadRequest);
    }

    [Theory]
    [InlineData("/api/admin/usage?tenantId=999999")]
    [InlineData("/api/admin/usage/endpoints?tenantId=999999")]
    [InlineData("/api/admin/usage/status-codes?tenantId=999999")]
    [InlineData("/api/admin/logs?tenantId=999999")]
    public async Task UnknownTenant_Is404ProblemJson(string url)
    {
        var response = await _admin.GetAsync(url);

        await AssertProblemAsync(response, HttpStatusCode.NotFound);
    }

    [Theory]
    [InlineData("/api/admin/usage")]
    [InlineData("/api/admin/usage/endpoints")]
    [InlineData("/api/admin/usage/status-codes")]
    [InlineData("/api/admin/logs")]
    public async Task WithoutSession_Is401ProblemJson(string url)
    {
        using var anonymous = _app.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });

        var response = await anonymous.GetAsync(url);

        await AssertProblemAsync(response, HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task TenantAdmin_SeesOwnTenant_AndOthersAre404()
    {
        var other = await _app.CreateTenantAsync(quota: 100);
        await WriteAsync(Event(T0.AddSeconds(1), 200, 500));
        await WriteAsync(Event(T0.AddSeconds(2), 200, 500, tenant: other));
        using var tenantAdmin = await TenantAdminClientAsync(_tenant.Id);
        var range = $"from={Iso(T0)}&to={Iso(T0.AddMinutes(1))}&bucket=minute";

        var own = await tenantAdmin.GetFromJsonAsync<JsonElement>($"/api/admin/usage?tenantId={_tenant.Id}&{range}");
        var implicitOwn = await tenantAdmin.GetFromJsonAsync<JsonElement>($"/api/admin/usage?{range}");
        var logs = await tenantAdmin.GetFromJsonAsync<JsonElement>("/api/admin/logs");

        AssertPoint(own.GetProperty("points")[0], requests: 1, errors: 0, rejected: 0);
        AssertPoint(implicitOwn.GetProperty("points")[0], requests: 1, errors: 0, rejected: 0);
        Assert.All(logs.GetProperty("items").EnumerateArray(), item => Assert.Equal(_tenant.Id, item.GetProperty("tenantId").GetInt64()));
        foreach (var url in new[]
        {
            $"/api/admin/usage?tenantId={other.Id}", $"/api/admin/usage/endpoints?tenantId={other.Id}",
            $"/api/admin/usage/status-codes?tenantId={other.Id}", $"/api/admin/logs?tenantId={other.Id}",
        })
        {
            await AssertProblemAsync(await tenantAdmin.GetAsync(url), HttpStatusCode.NotFound);
        }
    }

    [Fact]
    public async Task SuperAdmin_WithoutTenantId_SeesEveryTenantAddedUp()
    {
        var other = await _app.CreateTenantAsync(quota: 100);
        await WriteAsync(Event(T0.AddSeconds(1), 200, 500), Event(T0.AddSeconds(2), 200, 500, tenant: other));

        var series = await GetJsonAsync($"/api/admin/usage?from={Iso(T0)}&to={Iso(T0.AddMinutes(1))}&bucket=minute");

        Assert.Equal(JsonValueKind.Null, series.GetProperty("tenantId").ValueKind);
        AssertPoint(series.GetProperty("points")[0], requests: 2, errors: 0, rejected: 0);
    }

    [Fact]
    public async Task Endpoints_BreakDownRequestsErrorsAndLatencyPerRoute_BusiestFirst()
    {
        await WriteAsync(
            Event(T0.AddSeconds(1), 200, 500, endpoint: "/api/v1/users"),
            Event(T0.AddSeconds(2), 200, 500, endpoint: "/api/v1/users"),
            Event(T0.AddSeconds(3), 404, 500, endpoint: "/api/v1/users"),
            Event(T0.AddSeconds(4), 500, 9_000, endpoint: "/api/v1/users/{id}"),
            Event(T0.AddSeconds(5), 201, 500, endpoint: "/api/v1/users", method: "POST"));

        var body = await GetJsonAsync($"/api/admin/usage/endpoints?tenantId={_tenant.Id}&from={Iso(T0)}&to={Iso(T0.AddHours(1))}");

        var rows = body.GetProperty("endpoints").EnumerateArray().ToList();
        Assert.Equal(3, rows.Count);
        Assert.Equal("GET", rows[0].GetProperty("method").GetString());
        Assert.Equal("/api/v1/users", rows[0].GetProperty("endpoint").GetString());
        Assert.Equal(3, rows[0].GetProperty("requests").GetInt64());
        Assert.Equal(1, rows[0].GetProperty("errors").GetInt64());
        Assert.Equal(0.3333, rows[0].GetProperty("errorRate").GetDouble());
        var slow = rows.Single(r => r.GetProperty("endpoint").GetString() == "/api/v1/users/{id}");
        Assert.Equal(1.0, slow.GetProperty("errorRate").GetDouble());
        Assert.InRange(slow.GetProperty("p95Ms").GetDouble(), 5, 10);
    }

    [Fact]
    public async Task StatusCodes_CountRequestsPerCode_LowestFirst()
    {
        await WriteAsync(
            Event(T0.AddSeconds(1), 200, 500),
            Event(T0.AddSeconds(2), 200, 500),
            Event(T0.AddSeconds(3), 404, 500),
            Event(T0.AddSeconds(4), 429, 20, LimitOutcome.QuotaExceeded));

        var body = await GetJsonAsync($"/api/admin/usage/status-codes?tenantId={_tenant.Id}&from={Iso(T0)}&to={Iso(T0.AddHours(1))}");

        var codes = body.GetProperty("statusCodes").EnumerateArray()
            .Select(c => (c.GetProperty("statusCode").GetInt32(), c.GetProperty("requests").GetInt64())).ToList();
        Assert.Equal([(200, 2L), (404, 1L), (429, 1L)], codes);
    }

    [Fact]
    public async Task Logs_PageNewestFirst_ByCursor_EachRowOnce()
    {
        var events = Enumerable.Range(0, 7).Select(i => Event(T0.AddSeconds(i), 200 + i, 1_000 + i)).ToArray();
        await WriteAsync(events);

        var seen = new List<long>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await GetJsonAsync($"/api/admin/logs?tenantId={_tenant.Id}&limit=3" + (cursor is null ? "" : $"&cursor={cursor}"));
            seen.AddRange(page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetInt64()));
            cursor = page.GetProperty("nextCursor").GetString();
            pages++;
        }
        while (cursor is not null && pages < 10);

        Assert.Equal(3, pages);
        Assert.Equal(7, seen.Count);
        Assert.Equal(7, seen.Distinct().Count());
        Assert.Equal(seen.OrderByDescending(id => id), seen);
        var newest = (await GetJsonAsync($"/api/admin/logs?tenantId={_tenant.Id}&limit=1")).GetProperty("items")[0];
        Assert.Equal(206, newest.GetProperty("statusCode").GetInt32());
        Assert.Equal(1.006, newest.GetProperty("latencyMs").GetDouble());
        Assert.Equal("Admitted", newest.GetProperty("outcome").GetString());
        Assert.Equal("/api/v1/users", newest.GetProperty("endpoint").GetString());
    }

    [Fact]
    public async Task Logs_OfATenant_AreNewestFirstByTime_EvenWhenStoredOutOfOrder()
    {
        // Stored later but older: a batch that arrived late, or simulated history.
        await WriteAsync(Event(T0.AddMinutes(5), 201, 500), Event(T0.AddMinutes(5), 202, 500));
        await WriteAsync(Event(T0.AddMinutes(1), 203, 500), Event(T0.AddMinutes(9), 204, 500));

        var statuses = new List<int>();
        string? cursor = null;
        do
        {
            var page = await GetJsonAsync($"/api/admin/logs?tenantId={_tenant.Id}&limit=1" + (cursor is null ? "" : $"&cursor={cursor}"));
            statuses.AddRange(page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("statusCode").GetInt32()));
            cursor = page.GetProperty("nextCursor").GetString();
        }
        while (cursor is not null && statuses.Count < 10);

        // Same timestamp: the later row (higher id) first.
        Assert.Equal([204, 202, 201, 203], statuses);
    }

    [Fact]
    public async Task Logs_FromAndTo_FilterByTimestamp()
    {
        await WriteAsync(Event(T0.AddMinutes(1), 200, 500), Event(T0.AddMinutes(2), 201, 500), Event(T0.AddMinutes(3), 202, 500));

        var page = await GetJsonAsync($"/api/admin/logs?tenantId={_tenant.Id}&from={Iso(T0.AddMinutes(2))}&to={Iso(T0.AddMinutes(3))}");

        var item = Assert.Single(page.GetProperty("items").EnumerateArray());
        Assert.Equal(201, item.GetProperty("statusCode").GetInt32());
        Assert.Equal(JsonValueKind.Null, page.GetProperty("nextCursor").ValueKind);
    }

    [Fact]
    public async Task Logs_AcceptTextCsv_ExportsEveryRowAsCsv()
    {
        await WriteAsync(
            Event(T0.AddSeconds(1), 200, 1_500),
            Event(T0.AddSeconds(2), 429, 20, LimitOutcome.RateLimited),
            Event(T0.AddSeconds(3), 200, 500, endpoint: "/api/v1/a,b"));
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/admin/logs?tenantId={_tenant.Id}");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/csv"));

        var response = await _admin.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/csv", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("attachment", response.Content.Headers.ContentDisposition?.DispositionType);
        var lines = (await response.Content.ReadAsStringAsync()).TrimEnd('\n').Split('\n');
        Assert.Equal("id,timestamp,tenant_id,api_key_id,method,endpoint,status_code,latency_ms,outcome", lines[0]);
        Assert.Equal(4, lines.Length);
        Assert.EndsWith($",{_tenant.Id},{_tenant.KeyId},GET,\"/api/v1/a,b\",200,0.5,Admitted", lines[1]);
        Assert.Contains("2026-03-10T10:00:02.0000000Z", lines[2], StringComparison.Ordinal);
        Assert.EndsWith(",429,0.02,RateLimited", lines[2]);
        Assert.EndsWith(",200,1.5,Admitted", lines[3]);
    }

    [Fact]
    public async Task Logs_PreferringJson_StaysJson()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/admin/logs?tenantId={_tenant.Id}");
        request.Headers.Accept.ParseAdd("application/json, text/csv;q=0.5");

        var response = await _admin.SendAsync(request);

        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Logs_OfLiveTraffic_ShowUpAfterTheWriterStoresThem()
    {
        using var client = _app.TenantClient(_tenant.ApiKey);
        for (var i = 0; i < 3; i++)
        {
            (await client.GetAsync("/api/v1/ping")).EnsureSuccessStatusCode();
        }

        JsonElement page = default;
        for (var attempt = 0; attempt < 50; attempt++)
        {
            page = await GetJsonAsync($"/api/admin/logs?tenantId={_tenant.Id}");
            if (page.GetProperty("items").GetArrayLength() >= 3)
            {
                break;
            }

            await Task.Delay(100);
        }

        Assert.Equal(3, page.GetProperty("items").GetArrayLength());
        Assert.All(page.GetProperty("items").EnumerateArray(), i => Assert.Equal("/api/v1/ping", i.GetProperty("endpoint").GetString()));
    }

    private async Task<JsonElement> GetJsonAsync(string url)
    {
        var response = await _admin.GetAsync(url);
        Assert.True(response.IsSuccessStatusCode, $"{url}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private UsageEvent Event(
        DateTime at, int status, long latencyMicros, LimitOutcome outcome = LimitOutcome.Admitted,
        string endpoint = "/api/v1/users", string method = "GET", TestTenant? tenant = null)
    {
        var t = tenant ?? _tenant;
        return new UsageEvent(t.Id, t.KeyId, at, method, endpoint, status, latencyMicros, outcome,
            QuotaPeriod.Month, QuotaPeriods.StartOf(QuotaPeriod.Month, at));
    }

    private async Task WriteAsync(params UsageEvent[] events)
    {
        var batch = new UsageBatch();
        foreach (var e in events)
        {
            batch.Add(e);
        }

        await _app.Services.GetRequiredService<IUsageBatchStore>().WriteAsync(batch, CancellationToken.None);
    }

    private async Task<HttpClient> TenantAdminClientAsync(long tenantId)
    {
        const string password = "tenant-admin-password";
        await using (var scope = _app.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<TollgateDbContext>();
            var admin = new Tollgate.Data.Admin
            {
                Username = "ta-" + tenantId, PasswordHash = "", Role = AdminRole.TenantAdmin, TenantId = tenantId, CreatedAt = DateTime.UtcNow,
            };
            admin.PasswordHash = new PasswordHasher<Tollgate.Data.Admin>().HashPassword(admin, password);
            db.Admins.Add(admin);
            await db.SaveChangesAsync();
        }

        var client = _app.CreateClient(new WebApplicationFactoryClientOptions { HandleCookies = true, AllowAutoRedirect = false });
        (await client.PostAsJsonAsync("/api/auth/login", new { username = "ta-" + tenantId, password })).EnsureSuccessStatusCode();
        return client;
    }

    private static void AssertPoint(JsonElement point, long requests, long errors, long rejected)
    {
        Assert.Equal(requests, point.GetProperty("requests").GetInt64());
        Assert.Equal(errors, point.GetProperty("errors").GetInt64());
        Assert.Equal(rejected, point.GetProperty("rejected").GetInt64());
    }

    private static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
    }

    private static string Iso(DateTime utc) => Uri.EscapeDataString(utc.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture));
}
