using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Tollgate.Limits;
using Tollgate.Testing;
using Tollgate.Usage;

namespace Tollgate.Server.Tests.Admin;

/// <summary>
/// <c>/api/admin/tenants/{id}/statements</c> and <c>…/statements/{month}</c>, with traffic written at chosen times through
/// the usage writer's batch store: January 2026 busy (with requests at its first and last instants), February empty,
/// March busy, and requests on April 1st, the day after a range that ends with March, which must not leak into it.
/// </summary>
public sealed class StatementsApiTests : IAsyncLifetime
{
    private static readonly DateTime January = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
    private static readonly DateTime February = new(2026, 2, 1, 0, 0, 0, DateTimeKind.Utc);
    private static readonly DateTime March = new(2026, 3, 1, 0, 0, 0, DateTimeKind.Utc);
    private static readonly DateTime April = new(2026, 4, 1, 0, 0, 0, DateTimeKind.Utc);

    // Frozen at the real present, so that "the current month" cannot change under a test that runs at midnight.
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly TollgateApp _app;
    private readonly List<UsageEvent> _events = [];
    private HttpClient _admin = null!;
    private TestTenant _tenant = null!;

    public StatementsApiTests() => _app = new TollgateApp(time: _time);

    public async Task InitializeAsync()
    {
        _admin = await _app.AdminClientAsync();
        // A comma in the name: the CSV has to quote it.
        _tenant = await _app.CreateTenantAsync(quota: 10_000_000, name: "Acme, Inc " + Guid.NewGuid().ToString("N")[..6]);
    }

    public async Task DisposeAsync()
    {
        _admin.Dispose();
        await _app.DisposeAsync();
    }

    [Fact]
    public async Task Statements_PerMonth_CountEachOutcomeExactly_AndPercentilesAreWithin2PercentOfTheRequests()
    {
        await WriteHistoryAsync();
        // Statements read the day tier alone: what retention deletes (raw rows, minute and hour roll-ups) is not needed.
        foreach (var table in new[] { "usage_log_entries", "usage_rollups", "usage_rollups_hour" })
        {
            await _app.Database.ExecuteAsync($"DELETE FROM {table} WHERE tenant_id = @t", ("@t", _tenant.Id));
        }

        var list = await GetJsonAsync($"/api/admin/tenants/{_tenant.Id}/statements?from=2026-01&to=2026-03");

        var months = list.EnumerateArray().ToList();
        Assert.Equal(["2026-03", "2026-02", "2026-01"], months.Select(m => m.GetProperty("month").GetString()));
        var (march, february, january) = (months[0], months[1], months[2]);
        AssertCounts(january, requests: 721, admitted: 681, rateLimited: 25, quotaExceeded: 15, errors: 70);
        AssertCounts(march, requests: 311, admitted: 308, rateLimited: 3, quotaExceeded: 0, errors: 7);
        AssertCounts(february, requests: 0, admitted: 0, rateLimited: 0, quotaExceeded: 0, errors: 0);
        AssertPercentiles(january, January, February);
        AssertPercentiles(march, March, April);
        foreach (var p in new[] { "p50Ms", "p95Ms", "p99Ms" })
        {
            Assert.Equal(JsonValueKind.Null, february.GetProperty(p).ValueKind);
        }

        Assert.Equal(_tenant.Id, january.GetProperty("tenantId").GetInt64());
        Assert.Equal(_tenant.Name, january.GetProperty("tenantName").GetString());
        Assert.Equal("plan-" + _tenant.Name, january.GetProperty("plan").GetString());
        Assert.Equal(January, january.GetProperty("from").GetDateTime().ToUniversalTime());
        Assert.Equal(February, january.GetProperty("to").GetDateTime().ToUniversalTime());
        Assert.Equal(February, february.GetProperty("from").GetDateTime().ToUniversalTime());
        Assert.Equal(March, february.GetProperty("to").GetDateTime().ToUniversalTime());
        Assert.All(months, m => Assert.True(m.GetProperty("complete").GetBoolean()));
    }

    [Fact]
    public async Task Statement_OfOneMonth_HasItsFirstAndLastInstant_AndNotTheNextMonthsFirstDay()
    {
        await WriteHistoryAsync();

        var march = await GetJsonAsync($"/api/admin/tenants/{_tenant.Id}/statements/2026-03");
        var april = await GetJsonAsync($"/api/admin/tenants/{_tenant.Id}/statements/2026-04");
        var february = await GetJsonAsync($"/api/admin/tenants/{_tenant.Id}/statements/2026-02");

        Assert.Equal("2026-03", march.GetProperty("month").GetString());
        AssertCounts(march, requests: 311, admitted: 308, rateLimited: 3, quotaExceeded: 0, errors: 7);
        Assert.Equal(March, march.GetProperty("from").GetDateTime().ToUniversalTime());
        Assert.Equal(April, march.GetProperty("to").GetDateTime().ToUniversalTime());
        AssertCounts(april, requests: 5, admitted: 5, rateLimited: 0, quotaExceeded: 0, errors: 0);
        AssertCounts(february, requests: 0, admitted: 0, rateLimited: 0, quotaExceeded: 0, errors: 0);
        Assert.Equal(JsonValueKind.Null, february.GetProperty("p95Ms").ValueKind);
    }

    [Fact]
    public async Task Statements_WithoutRange_AreTheLast12MonthsNewestFirst_AndTheCurrentMonthIsCompleteOnlyWhenOver()
    {
        var now = _time.GetUtcNow().UtcDateTime;
        await WriteAsync(Event(now, 200, 1_000), Event(now, 503, 2_000));

        var list = await GetJsonAsync($"/api/admin/tenants/{_tenant.Id}/statements");

        var months = list.EnumerateArray().ToList();
        Assert.Equal(12, months.Count);
        var current = new DateTime(now.Year, now.Month, 1, 0, 0, 0, DateTimeKind.Utc);
        for (var i = 0; i < 12; i++)
        {
            Assert.Equal(Month(current.AddMonths(-i)), months[i].GetProperty("month").GetString());
            Assert.Equal(i > 0, months[i].GetProperty("complete").GetBoolean());
        }

        AssertCounts(months[0], requests: 2, admitted: 2, rateLimited: 0, quotaExceeded: 0, errors: 1);

        // The month is over at its end's first instant, not an instant later. (The session does not survive the jump.)
        var end = current.AddMonths(1);
        _time.SetUtcNow(new DateTimeOffset(end.AddTicks(-1)));
        using (var admin = await _app.AdminClientAsync())
        {
            Assert.False((await GetJsonAsync($"/api/admin/tenants/{_tenant.Id}/statements/{Month(current)}", admin)).GetProperty("complete").GetBoolean());
        }

        _time.SetUtcNow(new DateTimeOffset(end));
        using (var admin = await _app.AdminClientAsync())
        {
            var over = await GetJsonAsync($"/api/admin/tenants/{_tenant.Id}/statements/{Month(current)}", admin);
            Assert.True(over.GetProperty("complete").GetBoolean());
            AssertCounts(over, requests: 2, admitted: 2, rateLimited: 0, quotaExceeded: 0, errors: 1);
        }
    }

    [Fact]
    public async Task Statements_OnlyFrom_RunToTheCurrentMonth_AndOnlyTo_CoverTheYearBeforeIt()
    {
        var current = Month(_time.GetUtcNow().UtcDateTime);

        var fromOnly = await GetJsonAsync($"/api/admin/tenants/{_tenant.Id}/statements?from=2026-01");
        var toOnly = await GetJsonAsync($"/api/admin/tenants/{_tenant.Id}/statements?to=2026-03");

        Assert.Equal(current, fromOnly[0].GetProperty("month").GetString());
        Assert.Equal("2026-01", fromOnly[fromOnly.GetArrayLength() - 1].GetProperty("month").GetString());
        Assert.Equal(12, toOnly.GetArrayLength());
        Assert.Equal("2026-03", toOnly[0].GetProperty("month").GetString());
        Assert.Equal("2025-04", toOnly[11].GetProperty("month").GetString());
    }

    [Fact]
    public async Task Statements_Of120Months_AreServed_And121Are400()
    {
        var ten = await GetJsonAsync($"/api/admin/tenants/{_tenant.Id}/statements?from=2016-04&to=2026-03");
        var response = await _admin.GetAsync($"/api/admin/tenants/{_tenant.Id}/statements?from=2016-03&to=2026-03");

        Assert.Equal(120, ten.GetArrayLength());
        Assert.Equal("2016-04", ten[119].GetProperty("month").GetString());
        await response.ProblemAsync(400);
    }

    [Fact]
    public async Task Statements_AcceptTextCsv_OneRowPerMonth_UnderTheJsonNames()
    {
        await WriteHistoryAsync();
        var json = await GetJsonAsync($"/api/admin/tenants/{_tenant.Id}/statements?from=2026-01&to=2026-03");

        var (listResponse, list) = await GetCsvAsync($"/api/admin/tenants/{_tenant.Id}/statements?from=2026-01&to=2026-03");
        var (oneResponse, one) = await GetCsvAsync($"/api/admin/tenants/{_tenant.Id}/statements/2026-02");

        const string Header = "tenantId,tenantName,plan,month,from,to,requests,admitted,rateLimited,quotaExceeded,errors,p50Ms,p95Ms,p99Ms,complete";
        Assert.Equal(Header, list[0]);
        Assert.Equal(4, list.Length);
        var quoted = $"{_tenant.Id},\"{_tenant.Name}\",\"plan-{_tenant.Name}\"";
        var january = json[2];
        Assert.Equal(
            $"{quoted},2026-01,2026-01-01T00:00:00Z,2026-02-01T00:00:00Z,721,681,25,15,70," +
            $"{Number(january, "p50Ms")},{Number(january, "p95Ms")},{Number(january, "p99Ms")},true",
            list[3]);
        Assert.StartsWith($"{quoted},2026-03,2026-03-01T00:00:00Z,2026-04-01T00:00:00Z,311,308,3,0,7,", list[1], StringComparison.Ordinal);
        Assert.Equal($"{quoted},2026-02,2026-02-01T00:00:00Z,2026-03-01T00:00:00Z,0,0,0,0,0,,,,true", list[2]);
        Assert.Equal($"tollgate-statements-{_tenant.Id}-2026-01-to-2026-03.csv", FileName(listResponse));

        Assert.Equal([Header, list[2]], one);
        Assert.Equal($"tollgate-statement-{_tenant.Id}-2026-02.csv", FileName(oneResponse));
    }

    [Fact]
    public async Task Statements_TenantAdmin_ReadsItsOwnTenant_AndAnotherTenantIs404()
    {
        var other = await _app.CreateTenantAsync(quota: 100);
        await WriteAsync(Event(January.AddDays(3), 200, 1_000));
        using var own = await _app.AdminClientAsync("TenantAdmin", _tenant.Id);
        using var stranger = await _app.AdminClientAsync("TenantAdmin", other.Id);

        var statement = await GetJsonAsync($"/api/admin/tenants/{_tenant.Id}/statements/2026-01", own);
        var list = await GetJsonAsync($"/api/admin/tenants/{_tenant.Id}/statements?from=2026-01&to=2026-02", own);

        Assert.Equal(1, statement.GetProperty("requests").GetInt64());
        Assert.Equal(2, list.GetArrayLength());
        await (await stranger.GetAsync($"/api/admin/tenants/{_tenant.Id}/statements")).ProblemAsync(404);
        await (await stranger.GetAsync($"/api/admin/tenants/{_tenant.Id}/statements/2026-01")).ProblemAsync(404);
    }

    [Theory]
    [InlineData("/api/admin/tenants/999999/statements")]
    [InlineData("/api/admin/tenants/999999/statements/2026-01")]
    public async Task Statements_OfAnUnknownTenant_Are404ProblemJson(string url)
    {
        await (await _admin.GetAsync(url)).ProblemAsync(404);
    }

    [Theory]
    [InlineData("/api/admin/tenants/1/statements")]
    [InlineData("/api/admin/tenants/1/statements/2026-01")]
    public async Task Statements_WithoutSession_Are401ProblemJson(string url)
    {
        using var anonymous = _app.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });

        await (await anonymous.GetAsync(url)).ProblemAsync(401);
    }

    [Fact]
    public async Task Statements_BadMonth_Is400ProblemJson_NeverA500()
    {
        // One app for every case: each is a request of its own, and an app a case would start 21 databases per provider.
        string[] cases =
        [
            "?from=2026-13", "?from=2026-00", "?from=2026-1", "?from=26-01", "?from=2026-01-01", "?from=2026/01",
            "?from=%2B026-01", "?from=%202026-01", "?to=nope", "?to=", "?to=9999-12", "?from=0001-01&to=0001-02",
            "?from=1969-12", "?from=2026-03&to=2026-01", "?from=2026-01&from=2026-02",
            "/2026-13", "/2026-1", "/202601", "/2026-01-01", "/%E2%82%81%E2%82%80%E2%82%82%E2%82%86-01", "/9999-12", "/1969-12",
        ];
        var failures = new List<string>();
        foreach (var rest in cases)
        {
            var response = await _admin.GetAsync($"/api/admin/tenants/{_tenant.Id}/statements{rest}");
            var type = response.Content.Headers.ContentType?.MediaType;
            if (response.StatusCode != HttpStatusCode.BadRequest || type != "application/problem+json")
            {
                failures.Add($"{rest}: {(int)response.StatusCode} {type}");
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    private async Task WriteHistoryAsync()
    {
        var other = await _app.CreateTenantAsync(quota: 100);
        var janLatencies = LatencySamples.Sample("lognormal", 600, seed: 13);
        var marLatencies = LatencySamples.Sample("pareto", 300, seed: 17);
        var events = new List<UsageEvent>();
        // January: 600 admitted 200s spread over the month from its first instant, one more at its last, 70 errors
        // (40 answered 500, 30 answered 404), 10 admitted 201s, 25 refused by the rate, 15 by the quota.
        events.AddRange(janLatencies.Select((latency, i) => Event(January.AddMinutes(i * 74), 200, latency)));
        events.Add(Event(February.AddMilliseconds(-1), 200, 1_500));
        events.AddRange(Enumerable.Range(0, 40).Select(i => Event(January.AddHours(7 + i * 17), 500, 40_000 + i * 100)));
        events.AddRange(Enumerable.Range(0, 30).Select(i => Event(January.AddHours(3 + i * 23), 404, 900 + i * 10)));
        events.AddRange(Enumerable.Range(0, 10).Select(i => Event(January.AddDays(2 + i), 201, 2_500)));
        events.AddRange(Enumerable.Range(0, 25).Select(i => Event(January.AddDays(i), 429, 30, LimitOutcome.RateLimited)));
        events.AddRange(Enumerable.Range(0, 15).Select(i => Event(January.AddDays(10 + i), 429, 25, LimitOutcome.QuotaExceeded)));
        // March: 300 admitted from its first instant, one at its last, 7 answered 503, 3 refused by the rate.
        events.AddRange(marLatencies.Select((latency, i) => Event(March.AddMinutes(i * 140), 200, latency)));
        events.Add(Event(April.AddMilliseconds(-1), 200, 800));
        events.AddRange(Enumerable.Range(0, 7).Select(i => Event(March.AddDays(1 + i * 4), 503, 5_000)));
        events.AddRange(Enumerable.Range(0, 3).Select(i => Event(March.AddDays(20 + i), 429, 40, LimitOutcome.RateLimited)));
        // April 1st, from its first instant: the day after a range that ends with March.
        events.AddRange(Enumerable.Range(0, 5).Select(i => Event(April.AddSeconds(i), 200, 700)));
        // Another tenant's traffic in the same months is not this tenant's.
        events.AddRange(Enumerable.Range(0, 9).Select(i => Event(January.AddDays(i * 7), 200, 100, tenant: other)));

        await WriteAsync([.. events]);
    }

    private void AssertPercentiles(JsonElement statement, DateTime from, DateTime to)
    {
        var raw = _events.Where(e => e.TenantId == _tenant.Id && e.Timestamp >= from && e.Timestamp < to)
            .Select(e => e.LatencyMicros).Order().ToArray();
        Assert.Equal(raw.Length, statement.GetProperty("requests").GetInt64());
        foreach (var (name, p) in new[] { ("p50Ms", 50.0), ("p95Ms", 95.0), ("p99Ms", 99.0) })
        {
            var exact = LatencySamples.ExactPercentileMs(raw, p);
            var reported = statement.GetProperty(name).GetDouble();
            Assert.True(Math.Abs(reported - exact) <= exact * 0.02, $"{statement.GetProperty("month")} {name}: requests {exact} ms, statement {reported} ms");
        }
    }

    private static void AssertCounts(JsonElement statement, long requests, long admitted, long rateLimited, long quotaExceeded, long errors)
    {
        var month = statement.GetProperty("month").GetString();
        Assert.Equal((month, requests), (month, statement.GetProperty("requests").GetInt64()));
        Assert.Equal((month, admitted), (month, statement.GetProperty("admitted").GetInt64()));
        Assert.Equal((month, rateLimited), (month, statement.GetProperty("rateLimited").GetInt64()));
        Assert.Equal((month, quotaExceeded), (month, statement.GetProperty("quotaExceeded").GetInt64()));
        Assert.Equal((month, errors), (month, statement.GetProperty("errors").GetInt64()));
    }

    private UsageEvent Event(DateTime at, int status, long latencyMicros, LimitOutcome outcome = LimitOutcome.Admitted, TestTenant? tenant = null)
    {
        var t = tenant ?? _tenant;
        return new UsageEvent(t.Id, t.KeyId, at, "GET", "/api/v1/users", status, latencyMicros, outcome,
            QuotaPeriod.Month, QuotaPeriods.StartOf(QuotaPeriod.Month, at));
    }

    private async Task WriteAsync(params UsageEvent[] events)
    {
        // A few batches, as the writer stores them: a day row is the sum of several upserts.
        foreach (var chunk in events.Chunk(250))
        {
            var batch = new UsageBatch();
            foreach (var e in chunk)
            {
                batch.Add(e);
            }

            await _app.Services.GetRequiredService<IUsageBatchStore>().WriteAsync(batch, CancellationToken.None);
        }

        _events.AddRange(events);
    }

    private async Task<JsonElement> GetJsonAsync(string url, HttpClient? client = null)
    {
        var response = await (client ?? _admin).GetAsync(url);
        Assert.True(response.IsSuccessStatusCode, $"{url}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return await response.ReadJsonAsync();
    }

    private async Task<(HttpResponseMessage Response, string[] Lines)> GetCsvAsync(string url)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/csv"));
        var response = await _admin.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/csv", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("attachment", response.Content.Headers.ContentDisposition?.DispositionType);
        return (response, (await response.Content.ReadAsStringAsync()).TrimEnd('\n').Split('\n'));
    }

    private static string? FileName(HttpResponseMessage response) => response.Content.Headers.ContentDisposition?.FileName?.Trim('"');

    private static string Number(JsonElement statement, string name) => statement.GetProperty(name).GetDouble().ToString(CultureInfo.InvariantCulture);

    private static string Month(DateTime at) => at.ToString("yyyy-MM", CultureInfo.InvariantCulture);
}
