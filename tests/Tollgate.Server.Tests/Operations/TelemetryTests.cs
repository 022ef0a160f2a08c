using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Trace;
using Tollgate.Operations;
using Tollgate.Testing;

namespace Tollgate.Server.Tests.Operations;

/// <summary>Metrics scraped by a real Prometheus, the operator kit in docs/operations, and the spans of a request.</summary>
[Collection(MetricsCollection.Name)]
public sealed partial class TelemetryTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly string Docs = Path.Combine(RepositoryRoot(), "docs", "operations");
    // The in-memory exporter adds each span on the thread that stops it (requests, the usage writer, the webhook
    // dispatcher), so the collection locks its own writes; readers take the same lock (CI: a List copied while
    // another thread appended threw "Destination array was not long enough").
    private readonly LockedCollection<Activity> _spans = [];

    [Fact]
    public async Task Prometheus_ScrapingTollgate_CountsExactlyTheTrafficSent_AndLoadsTheAlertRules()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var app = new TollgateApp(settings: new Dictionary<string, string?> { ["Tollgate:Redis"] = redis.Configuration });
        var address = app.StartOnKestrel();
        await using var prometheus = await PrometheusServer.StartAsync($"127.0.0.1:{address.Port}", Path.Combine(Docs, "tollgate-alerts.yml"));

        var tenant = await app.CreateTenantAsync(3);
        using (var client = app.TenantClient(tenant.ApiKey))
        {
            for (var i = 0; i < 5; i++)
            {
                await client.GetAsync("/api/v1/ping");
            }
        }

        using (var stranger = app.TenantClient("tg_not-a-key"))
        {
            for (var i = 0; i < 4; i++)
            {
                Assert.Equal(HttpStatusCode.Unauthorized, (await stranger.GetAsync("/api/v1/ping")).StatusCode);
            }
        }

        // A well-formed key nobody issued: looked up, refused (its first look-up reads the database, the next ones are
        // answered from the negative cache or the key index). The valid key's first look-up is the key index's.
        using (var unissued = app.TenantClient("tg_" + new string('A', 32)))
        {
            for (var i = 0; i < 3; i++)
            {
                Assert.Equal(HttpStatusCode.Unauthorized, (await unissued.GetAsync("/api/v1/ping")).StatusCode);
            }
        }

        // Every well-formed key's look-up is counted once, by where it was answered (the malformed one never is).
        Assert.Equal(8, await prometheus.WaitForAsync("sum(tollgate_keys_lookups_total)", 8));
        Assert.True(await prometheus.ScalarAsync("sum(tollgate_keys_lookups_total{tollgate_keys_source=\"cache\"})") >= 4);
        Assert.True(await prometheus.ScalarAsync("sum(tollgate_keys_lookups_total{tollgate_keys_source=\"database\"})") >= 1);
        // The valid key's first use is decided from the key index (it joins the cache then).
        Assert.True(await prometheus.ScalarAsync("sum(tollgate_keys_lookups_total{tollgate_keys_source=\"index\"})") >= 1);

        // What Tollgate decided, what ASP.NET Core answered, what the writer stored: as sent. The decisions are read for
        // the route this test called: they are counted in memory and observed when scraped, and the provider observes
        // every meter of the name in the test process (MetricsCollection), e.g. the middleware tests' "/orders".
        Assert.Equal(3, await prometheus.WaitForAsync("sum(tollgate_metering_decisions_total{http_route=\"/api/v1/ping\",tollgate_decision=\"admitted\"})", 3));
        Assert.Equal(2, await prometheus.WaitForAsync("sum(tollgate_metering_decisions_total{http_route=\"/api/v1/ping\",tollgate_decision=\"quota\"})", 2));
        Assert.Equal(7, await prometheus.WaitForAsync("sum(tollgate_metering_decisions_total{http_route=\"/api/v1/ping\",tollgate_decision=\"unauthorized\"})", 7));
        foreach (var (status, count) in new[] { ("200", 3), ("429", 2), ("401", 7) })
        {
            Assert.Equal(count, await prometheus.WaitForAsync(
                $"sum(http_server_request_duration_seconds_count{{http_route=\"/api/v1/ping\",http_response_status_code=\"{status}\"}})", count));
        }

        Assert.Equal(5, await prometheus.WaitForAsync("sum(tollgate_usage_events_total)", 5));
        Assert.Equal(3, await prometheus.WaitForAsync("sum(tollgate_usage_events_total{outcome=\"Admitted\"})", 3));
        Assert.Equal(1, await prometheus.WaitForAsync("count(target_info{service_name=\"tollgate\",service_instance_id!=\"\",service_version!=\"\"})", 1));
        Assert.True(await prometheus.ScalarAsync("sum(tollgate_limits_redis_duration_seconds_count)") >= 5);
        Assert.Equal(0, await prometheus.ScalarAsync("max(tollgate_limits_shared_degraded)"));

        // Every alerting rule loads and evaluates.
        var rules = new List<JsonElement>();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        do
        {
            await Task.Delay(250);
            rules = (await prometheus.GetAsync("/api/v1/rules")).GetProperty("data").GetProperty("groups").EnumerateArray()
                .SelectMany(g => g.GetProperty("rules").EnumerateArray()).ToList();
        }
        while (rules.Any(r => !r.GetProperty("lastEvaluation").GetString()!.StartsWith("20", StringComparison.Ordinal)) && DateTime.UtcNow < deadline);
        Assert.Equal(6, rules.Count);
        Assert.All(rules, r => Assert.Equal("ok", r.GetProperty("health").GetString()));

        // The Grafana dashboard's queries run, and every series they name is one Tollgate exports.
        var exported = (await prometheus.GetAsync("/api/v1/label/__name__/values")).GetProperty("data").EnumerateArray()
            .Select(n => n.GetString()!).ToHashSet();
        var dashboard = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(Docs, "grafana-dashboard.json")));
        var expressions = dashboard.RootElement.GetProperty("panels").EnumerateArray()
            .SelectMany(p => p.GetProperty("targets").EnumerateArray()).Select(t => t.GetProperty("expr").GetString()!).ToList();
        Assert.NotEmpty(expressions);
        foreach (var expression in expressions)
        {
            await prometheus.QueryAsync(expression);
            // Label names also start with http_: leave out grouping clauses and label matchers.
            foreach (Match name in SeriesName().Matches(Grouping().Replace(expression, "")))
            {
                Assert.True(exported.Contains(name.Value), $"The dashboard uses {name.Value}, which Tollgate does not export (in: {expression})");
            }
        }

        output.WriteLine($"{exported.Count} series names exported; {expressions.Count} dashboard queries checked");
    }

    [Fact]
    public async Task Traces_OfAMeteredRequest_AreTheServerSpanWithTenantAndDecision_AndTheRedisDecisionBeneath()
    {
        await using var redis = await RedisServer.StartAsync();
        var spans = _spans;
        await using var app = new TollgateApp(
            settings: new Dictionary<string, string?> { ["Tollgate:Redis"] = redis.Configuration },
            configureServices: services => services.AddOpenTelemetry().WithTracing(t => t.AddTollgateInstrumentation().AddInMemoryExporter(spans)));
        var tenant = await app.CreateTenantAsync(1000);
        using (var client = app.TenantClient(tenant.ApiKey))
        {
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/ping")).StatusCode);
        }

        var tracer = app.Services.GetRequiredService<TracerProvider>();
        Activity? server = null;
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            tracer.ForceFlush();
            lock (spans)
            {
                server = spans.LastOrDefault(s => s.Kind == ActivityKind.Server && s.GetTagItem("http.route") as string == "/api/v1/ping");
                if (server is not null && spans.Any(s => s.OperationName == "tollgate.usage.write"))
                {
                    break;
                }
            }

            await Task.Delay(50);
        }

        Assert.NotNull(server);
        Assert.Equal("admitted", server.GetTagItem("tollgate.decision"));
        Assert.Equal(tenant.Id, server.GetTagItem("tollgate.tenant.id"));
        List<Activity> trace;
        lock (spans)
        {
            trace = spans.Where(s => s.TraceId == server.TraceId).ToList();
        }

        var decision = Assert.Single(trace, s => s.OperationName == "tollgate.limits.redis");
        Assert.Equal(server.SpanId, decision.ParentSpanId);
        Assert.Equal("Admitted", decision.GetTagItem("tollgate.outcome"));
        // The script's own Redis command, beneath the decision (the Redis instrumentation hands its spans over each second).
        deadline = DateTime.UtcNow.AddSeconds(10);
        while (!HasRedisCommandUnder(decision) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
            tracer.ForceFlush();
        }

        Assert.True(HasRedisCommandUnder(decision), "no Redis command span under the decision");
        // The writer's batches are spans of their own, not part of any request's trace.
        lock (spans)
        {
            var write = spans.First(s => s.OperationName == "tollgate.usage.write");
            Assert.NotEqual(server.TraceId, write.TraceId);
            Assert.True((int)write.GetTagItem("tollgate.usage.batch.size")! >= 1);
            // No span carries key material.
            Assert.DoesNotContain(spans.SelectMany(s => s.TagObjects), t => t.Value?.ToString()?.Contains(tenant.ApiKey, StringComparison.Ordinal) == true);
        }
    }

    [Fact]
    public async Task Traces_OfAGatewayRequest_HaveTheUpstreamCallBeneath_AndTheUpstreamGetsItsTraceparent()
    {
        await using var upstream = await AspNetUpstream.StartAsync();
        var spans = _spans;
        await using var app = new TollgateApp(
            settings: new Dictionary<string, string?>
            {
                ["ReverseProxy:Routes:shop:ClusterId"] = "shop",
                ["ReverseProxy:Routes:shop:Match:Path"] = "/shop/{**rest}",
                ["ReverseProxy:Clusters:shop:Destinations:main:Address"] = upstream.Address,
            },
            configureServices: services => services.AddOpenTelemetry().WithTracing(t => t.AddTollgateInstrumentation().AddInMemoryExporter(spans)));
        var tenant = await app.CreateTenantAsync(1000);
        using var client = app.TenantClient(tenant.ApiKey);
        using var response = await client.GetAsync("/shop/orders/1");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var traceparent = (await response.ReadJsonAsync()).GetProperty("headers").GetProperty("traceparent").GetString()!;

        // The client has its answer a moment before the server's span ends (and is exported): wait for both spans.
        var tracer = app.Services.GetRequiredService<TracerProvider>();
        List<Activity> all = [];
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            tracer.ForceFlush();
            lock (spans)
            {
                all = [.. spans];
            }

            if (all.Any(s => s.Kind == ActivityKind.Server && s.GetTagItem("http.route") as string == "/shop/{**rest}")
                && all.Any(s => s.Kind == ActivityKind.Client))
            {
                break;
            }

            await Task.Delay(50);
        }

        var server = Assert.Single(all, s => s.Kind == ActivityKind.Server && s.GetTagItem("http.route") as string == "/shop/{**rest}");
        Assert.Equal("admitted", server.GetTagItem("tollgate.decision"));
        var call = Assert.Single(all, s => s.Kind == ActivityKind.Client && s.TraceId == server.TraceId);
        // W3C traceparent: 00-<trace id>-<parent span id>-<flags>; the upstream's parent is Tollgate's upstream call.
        var parts = traceparent.Split('-');
        Assert.Equal(server.TraceId.ToHexString(), parts[1]);
        Assert.Equal(call.SpanId.ToHexString(), parts[2]);
        var parent = all.Single(s => s.SpanId == call.ParentSpanId);
        Assert.True(parent == server || parent.ParentSpanId == server.SpanId, "the upstream call hangs under the request's span");
    }

    [Fact]
    public async Task Tracing_WithoutAnOtlpEndpoint_IsNotSetUp_SoNoSpanIsMade()
    {
        await using var app = new TollgateApp();
        Assert.Null(app.Services.GetService<TracerProvider>());
        var tenant = await app.CreateTenantAsync(10);
        using var client = app.TenantClient(tenant.ApiKey);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/ping")).StatusCode);
    }

    [Fact]
    public async Task Tracing_WithAnOtlpEndpoint_IsSetUp()
    {
        await using var app = new TollgateApp(settings: new Dictionary<string, string?> { ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:9" });
        Assert.NotNull(app.Services.GetService<TracerProvider>());
        await Task.CompletedTask;
    }

    private bool HasRedisCommandUnder(Activity parent)
    {
        lock (_spans)
        {
            return _spans.Any(s => s.ParentSpanId == parent.SpanId && s.Source.Name.Contains("Redis", StringComparison.OrdinalIgnoreCase));
        }
    }

    [GeneratedRegex(@"\b(?:(?:tollgate|http|kestrel|dotnet|aspnetcore)_[a-z0-9_]+|target_info)\b(?!\s*(?:=|!=|=~|!~))")]
    private static partial Regex SeriesName();

    [GeneratedRegex(@"\bby\s*\([^)]*\)")]
    private static partial Regex Grouping();

    private static string RepositoryRoot()
    {
        var folder = new DirectoryInfo(AppContext.BaseDirectory);
        while (folder is not null && !File.Exists(Path.Combine(folder.FullName, "Tollgate.slnx")))
        {
            folder = folder.Parent;
        }

        return folder?.FullName ?? throw new InvalidOperationException("Tollgate.slnx not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>A list whose adds lock on the list itself, so readers can snapshot it under <c>lock (list)</c> while exporters add.</summary>
internal sealed class LockedCollection<T> : System.Collections.ObjectModel.Collection<T>
{
    /// <inheritdoc/>
    protected override void InsertItem(int index, T item)
    {
        lock (this)
        {
            base.InsertItem(index, item);
        }
    }
}
