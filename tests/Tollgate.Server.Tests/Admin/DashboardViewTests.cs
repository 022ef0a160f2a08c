using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Tollgate.Testing;

namespace Tollgate.Server.Tests.Admin;

/// <summary>
/// <c>/api/dashboard-data</c> and <c>/api/admin/stream</c> asked for a view: one page, filtered and ordered on the
/// server, with totals over every tenant. One app for the class: 300 bulk tenants plus a Blocked, a Warning and a busy
/// one made through the API.
/// </summary>
public sealed class DashboardViewTests(DashboardViewTests.Fixture fixture) : IClassFixture<DashboardViewTests.Fixture>
{
    private const int Bulk = 300;

    public sealed class Fixture : IAsyncLifetime
    {
        public TollgateApp App { get; } = new();

        public TestTenant Blocked { get; private set; } = null!;

        public TestTenant Warning { get; private set; } = null!;

        public TestTenant Busy { get; private set; } = null!;

        public int Total { get; private set; }

        public async Task InitializeAsync()
        {
            await BulkTenants.AddAsync(App, Bulk, "Bulk");
            Blocked = await App.CreateTenantAsync(3, name: "Zeta blocked");
            Warning = await App.CreateTenantAsync(10, name: "Yotta warning");
            Busy = await App.CreateTenantAsync(1_000_000, name: "Xi busy");
            await SendAsync(Blocked, 3);
            await SendAsync(Warning, 8);
            await SendAsync(Busy, 20);
            using var admin = await App.AdminClientAsync();
            Total = (await (await admin.GetAsync("/api/dashboard-data")).ReadJsonAsync()).GetProperty("tenants").GetArrayLength();
            // The last-minute counters come from the usage writer, a moment later.
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (DateTime.UtcNow < deadline
                && (await (await admin.GetAsync("/api/dashboard-data?q=Xi%20busy")).ReadJsonAsync()).GetProperty("tenants")[0].GetProperty("requestsLastMinute").GetInt64() < 20)
            {
                await Task.Delay(50);
            }
        }

        public async Task SendAsync(TestTenant tenant, int count)
        {
            using var client = App.TenantClient(tenant.ApiKey);
            for (var i = 0; i < count; i++)
            {
                await client.GetAsync("/api/v1/ping");
            }
        }

        public async Task DisposeAsync() => await App.DisposeAsync();
    }

    [Fact]
    public async Task View_DefaultOrder_PutsBlockedThenWarningFirst_AndTotalsCountEveryTenant()
    {
        using var admin = await fixture.App.AdminClientAsync();
        var page = await (await admin.GetAsync("/api/dashboard-data?limit=10")).ReadJsonAsync();

        var ids = Ids(page);
        Assert.Equal(10, ids.Count);
        Assert.Equal(fixture.Blocked.Id, ids[0]);
        Assert.Equal(fixture.Warning.Id, ids[1]);
        Assert.Equal(fixture.Total, page.GetProperty("matched").GetInt32());
        Assert.Equal("status", page.GetProperty("sort").GetString());
        Assert.Equal("desc", page.GetProperty("dir").GetString());
        var totals = page.GetProperty("totals");
        Assert.Equal(fixture.Total, totals.GetProperty("tenants").GetInt32());
        Assert.Equal(1, totals.GetProperty("blocked").GetInt32());
        Assert.Equal(1, totals.GetProperty("warning").GetInt32());
        Assert.Equal(fixture.Total - 2, totals.GetProperty("normal").GetInt32());
        Assert.True(totals.GetProperty("requestsLastMinute").GetInt64() >= 31);
        Assert.True(totals.GetProperty("used").GetInt64() >= 31);
        Assert.True(page.TryGetProperty("storage", out _));
        Assert.True(page.TryGetProperty("generatedAt", out _));
    }

    [Fact]
    public async Task View_PagesThroughEveryMatch_InNameOrder_WithoutGapsOrRepeats()
    {
        using var admin = await fixture.App.AdminClientAsync();
        var seen = new List<long>();
        var names = new List<string>();
        for (var offset = 0; ; offset += 64)
        {
            var page = await (await admin.GetAsync($"/api/dashboard-data?sort=name&limit=64&offset={offset}")).ReadJsonAsync();
            Assert.Equal(fixture.Total, page.GetProperty("matched").GetInt32());
            var rows = page.GetProperty("tenants").EnumerateArray().ToList();
            if (rows.Count == 0)
            {
                break;
            }

            seen.AddRange(rows.Select(r => r.GetProperty("id").GetInt64()));
            names.AddRange(rows.Select(r => r.GetProperty("name").GetString()!));
        }

        Assert.Equal(fixture.Total, seen.Count);
        Assert.Equal(fixture.Total, seen.Distinct().Count());
        Assert.Equal(names.Order(StringComparer.OrdinalIgnoreCase).ToList(), names);
    }

    [Theory]
    [InlineData("rpm", "desc", "requestsLastMinute")]
    [InlineData("rpm", "asc", "requestsLastMinute")]
    [InlineData("usage", "desc", "share")]
    [InlineData("p95", "desc", "p95LatencyMs")]
    [InlineData("errors", "desc", "errorRate")]
    [InlineData("reset", "asc", "resetAt")]
    [InlineData("name", "desc", "name")]
    public async Task View_SortsByEachKey_BothWays(string sort, string dir, string member)
    {
        using var admin = await fixture.App.AdminClientAsync();
        var page = await (await admin.GetAsync($"/api/dashboard-data?sort={sort}&dir={dir}&limit=1000")).ReadJsonAsync();
        var rows = page.GetProperty("tenants").EnumerateArray().ToList();
        Assert.Equal(fixture.Total, rows.Count);

        IComparable Key(JsonElement row) => member switch
        {
            "share" => (double)row.GetProperty("used").GetInt64() / row.GetProperty("limit").GetInt64(),
            "name" => row.GetProperty("name").GetString()!.ToUpperInvariant(),
            "resetAt" => row.GetProperty("resetAt").GetDateTime(),
            "p95LatencyMs" => row.GetProperty(member).ValueKind == JsonValueKind.Null ? -1.0 : row.GetProperty(member).GetDouble(),
            _ => row.GetProperty(member).GetDouble(),
        };
        for (var i = 1; i < rows.Count; i++)
        {
            var c = Key(rows[i - 1]).CompareTo(Key(rows[i]));
            Assert.True(dir == "desc" ? c >= 0 : c <= 0, $"Row {i} is out of order for {sort} {dir}.");
        }

        if (sort == "rpm" && dir == "desc")
        {
            Assert.Equal(fixture.Busy.Id, rows[0].GetProperty("id").GetInt64());
        }
    }

    [Fact]
    public async Task View_FiltersByStatusNameAndPlan()
    {
        using var admin = await fixture.App.AdminClientAsync();

        var blocked = await (await admin.GetAsync("/api/dashboard-data?status=Blocked")).ReadJsonAsync();
        Assert.Equal([fixture.Blocked.Id], Ids(blocked));
        Assert.Equal(1, blocked.GetProperty("matched").GetInt32());
        // Totals stay over every tenant, whatever the filter.
        Assert.Equal(fixture.Total, blocked.GetProperty("totals").GetProperty("tenants").GetInt32());

        var search = await (await admin.GetAsync("/api/dashboard-data?q=bulk%2000012&sort=name")).ReadJsonAsync();
        Assert.Equal(Enumerable.Range(120, 10).Select(i => $"Bulk 000{i}").ToList(), Names(search));

        var plan = await (await admin.GetAsync("/api/dashboard-data?plan=BULK&limit=1")).ReadJsonAsync();
        Assert.Equal(Bulk, plan.GetProperty("matched").GetInt32());
        var onPlan = await (await admin.GetAsync("/api/dashboard-data?plan=plan-Yotta%20warning&status=Warning")).ReadJsonAsync();
        Assert.Equal([fixture.Warning.Id], Ids(onPlan));
        var none = await (await admin.GetAsync("/api/dashboard-data?q=nobody-is-called-this")).ReadJsonAsync();
        Assert.Equal(0, none.GetProperty("matched").GetInt32());
        Assert.Empty(Ids(none));
        var past = await (await admin.GetAsync($"/api/dashboard-data?offset={fixture.Total + 10}")).ReadJsonAsync();
        Assert.Empty(Ids(past));
        Assert.Equal(fixture.Total, past.GetProperty("matched").GetInt32());
    }

    [Theory]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=1001", "limit")]
    [InlineData("limit=ten", "limit")]
    [InlineData("offset=-1", "offset")]
    [InlineData("offset=99999999999", "offset")]
    [InlineData("sort=bogus", "sort")]
    [InlineData("sort=1", "sort")]
    [InlineData("sort=usage,name", "sort")]
    [InlineData("dir=up", "dir")]
    [InlineData("status=Fine", "status")]
    [InlineData("status=1", "status")]
    public async Task View_BadParameters_Answer400ProblemJson_OnTheApiAndTheStream(string query, string field)
    {
        using var admin = await fixture.App.AdminClientAsync();
        foreach (var route in new[] { "/api/dashboard-data", "/api/admin/stream" })
        {
            var problem = await (await admin.GetAsync($"{route}?{query}")).ProblemAsync(400);
            Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"{route}?{query}: {problem}");
        }

        var tooLong = await (await admin.GetAsync("/api/dashboard-data?q=" + new string('a', 101))).ProblemAsync(400);
        Assert.True(tooLong.GetProperty("errors").TryGetProperty("q", out _));
    }

    [Fact]
    public async Task View_OfATenantAdmin_HoldsOnlyItsTenant_InThePageAndTheTotals()
    {
        using var client = await fixture.App.AdminClientAsync("TenantAdmin", fixture.Warning.Id);

        var page = await (await client.GetAsync("/api/dashboard-data?limit=50")).ReadJsonAsync();
        Assert.Equal([fixture.Warning.Id], Ids(page));
        Assert.Equal(1, page.GetProperty("matched").GetInt32());
        Assert.Equal(1, page.GetProperty("totals").GetProperty("tenants").GetInt32());
        Assert.Equal(1, page.GetProperty("totals").GetProperty("warning").GetInt32());
        Assert.Equal(0, page.GetProperty("totals").GetProperty("blocked").GetInt32());
        Assert.Empty(Ids(await (await client.GetAsync("/api/dashboard-data?q=Bulk")).ReadJsonAsync()));
        Assert.Empty(Ids(await (await client.GetAsync("/api/dashboard-data?status=Blocked")).ReadJsonAsync()));

        var first = await ReadEventsAsync(client, "/api/admin/stream?limit=50", 1);
        Assert.Equal("page", first[0].Type);
        Assert.Equal([fixture.Warning.Id], Ids(first[0].Data));
    }

    [Fact]
    public async Task Stream_WithAView_SendsThePage_ThenOnlyWhatChanged()
    {
        var tenant = fixture.Busy;
        using var admin = await fixture.App.AdminClientAsync();
        using var response = await admin.GetAsync("/api/admin/stream?q=Xi%20busy&limit=5", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));

        var page = await NextEventAsync(reader, timeout.Token);
        Assert.Equal("page", page.Type);
        Assert.Equal([tenant.Id], Ids(page.Data));
        Assert.True(page.Data.TryGetProperty("totals", out _));
        var used = page.Data.GetProperty("tenants")[0].GetProperty("used").GetInt64();
        var sequence = page.Data.GetProperty("sequence").GetInt64();

        // Nothing changes: deltas carry their sequence and time only.
        var idle = await NextEventAsync(reader, timeout.Token);
        Assert.Equal("delta", idle.Type);
        Assert.True(idle.Data.GetProperty("sequence").GetInt64() > sequence);
        Assert.False(idle.Data.TryGetProperty("order", out _), idle.Data.ToString());

        await fixture.SendAsync(tenant, 2);
        while (true)
        {
            var delta = await NextEventAsync(reader, timeout.Token);
            Assert.Equal("delta", delta.Type);
            if (delta.Data.TryGetProperty("rows", out var rows) && rows[0].GetProperty("used").GetInt64() == used + 2)
            {
                Assert.Equal(tenant.Id, rows[0].GetProperty("id").GetInt64());
                Assert.Equal(1, rows.GetArrayLength());
                Assert.Equal(2, delta.Data.GetProperty("totals").GetProperty("used").GetInt64() - page.Data.GetProperty("totals").GetProperty("used").GetInt64());
                break;
            }
        }
    }

    [Fact]
    public async Task Stream_OfAQuietPage_SendsDeltasWithoutRows_AfterThePage()
    {
        using var admin = await fixture.App.AdminClientAsync();
        var events = await ReadEventsAsync(admin, "/api/admin/stream?q=Bulk&sort=name&limit=20", 4);

        Assert.Equal("page", events[0].Type);
        Assert.Equal(20, Ids(events[0].Data).Count);
        foreach (var (type, data) in events.Skip(1))
        {
            Assert.Equal("delta", type);
            // Nobody calls the bulk tenants: nothing of the page changes, and the message is a sequence and a time.
            Assert.False(data.TryGetProperty("rows", out _), data.ToString());
            Assert.False(data.TryGetProperty("order", out _), data.ToString());
            Assert.True(data.GetRawText().Length < 200, data.ToString());
        }
    }

    [Fact]
    public async Task Stream_OfAQuietPage_SendsNoRows_WhenTheTenantDirectoryIsReloadedUnchanged()
    {
        // The periodic resync reloads the directory every 10 s: a new snapshot with the same tenants must not resend
        // the page (it did: rows were matched by the snapshot's identity).
        using var admin = await fixture.App.AdminClientAsync();
        var reading = ReadEventsAsync(admin, "/api/admin/stream?q=Bulk&sort=name&limit=20", 4);
        var directory = fixture.App.Services.GetRequiredService<Tollgate.Keys.TenantDirectory>();
        while (!reading.IsCompleted)
        {
            await directory.ReloadAsync();
            await Task.Delay(200);
        }

        var events = await reading;
        Assert.Equal("page", events[0].Type);
        Assert.All(events.Skip(1), e => Assert.False(e.Data.TryGetProperty("rows", out _), e.Data.ToString()));
    }

    [Fact]
    public async Task Stream_WithoutAView_StillSendsWholeSnapshots()
    {
        using var admin = await fixture.App.AdminClientAsync();
        var events = await ReadEventsAsync(admin, "/api/admin/stream", 1);
        Assert.Equal("snapshot", events[0].Type);
        Assert.Equal(fixture.Total, events[0].Data.GetProperty("tenants").GetArrayLength());
    }

    [Fact]
    public async Task OpenApi_DescribesTheViewParameters()
    {
        using var admin = await fixture.App.AdminClientAsync();
        var document = await (await admin.GetAsync("/openapi/v1.json")).ReadJsonAsync();
        foreach (var path in new[] { "/api/dashboard-data", "/api/admin/stream" })
        {
            var parameters = document.GetProperty("paths").GetProperty(path).GetProperty("get").GetProperty("parameters")
                .EnumerateArray().ToDictionary(p => p.GetProperty("name").GetString()!, p => p);
            foreach (var name in new[] { "limit", "offset", "sort", "dir", "status", "q", "plan" })
            {
                Assert.True(parameters.TryGetValue(name, out var parameter), $"{path} lacks {name}");
                Assert.Equal("query", parameter.GetProperty("in").GetString());
                Assert.True(parameter.TryGetProperty("description", out var description) && description.GetString() is { Length: > 0 }, $"{path}: {name} has no description");
            }
        }
    }

    private static List<long> Ids(JsonElement page) => page.GetProperty("tenants").EnumerateArray().Select(t => t.GetProperty("id").GetInt64()).ToList();

    private static List<string> Names(JsonElement page) => page.GetProperty("tenants").EnumerateArray().Select(t => t.GetProperty("name").GetString()!).ToList();

    private static async Task<List<(string Type, JsonElement Data)>> ReadEventsAsync(HttpClient client, string url, int count)
    {
        using var response = await client.GetAsync(url, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var events = new List<(string, JsonElement)>();
        while (events.Count < count)
        {
            events.Add(await NextEventAsync(reader, timeout.Token));
        }

        return events;
    }

    private static async Task<(string Type, JsonElement Data)> NextEventAsync(StreamReader reader, CancellationToken ct)
    {
        var type = "message";
        while (true)
        {
            var line = await reader.ReadLineAsync(ct) ?? throw new EndOfStreamException();
            if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                type = line[7..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                return (type, JsonDocument.Parse(line[6..]).RootElement.Clone());
            }
        }
    }
}
