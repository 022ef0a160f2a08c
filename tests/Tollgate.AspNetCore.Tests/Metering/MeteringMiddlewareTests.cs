using System.Runtime.CompilerServices;
using System.Diagnostics.Metrics;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Tollgate.Data;
using Tollgate.Keys;
using Tollgate.Limits;
using Tollgate.Metering;
using Tollgate.Usage;

namespace Tollgate.AspNetCore.Tests.Metering;

/// <summary>
/// The metering middleware alone, on a <see cref="DefaultHttpContext"/>: what it answers and records for each
/// decision, and the options an embedding app sets (key header, <c>OnRejected</c>, endpoint name). Its key store and
/// limit store are small in-memory stand-ins; the real ones, on real databases, are covered by the functional tests.
/// </summary>
public sealed class MeteringMiddlewareTests
{
    private static readonly TenantContext Tenant = new(7, "acme", 1, "Basic", TenantStatus.Active,
        new LimitPolicy(100, QuotaPeriod.Month, null, null));

    [Fact]
    public async Task AnAdmittedRequest_RunsTheEndpoint_SetsTheHeaders_AndRecordsItsRoutePattern()
    {
        var (middleware, queue, ran) = Create(LimitOutcome.Admitted);
        var context = Request("/orders/42", "/orders/{id}", ("X-API-KEY", "good"));

        await middleware.InvokeAsync(context);

        Assert.True(ran.Value);
        Assert.Equal(200, context.Response.StatusCode);
        Assert.Equal("99", context.Response.Headers["X-RateLimit-Remaining"].ToString());
        Assert.True(queue.TryTake(out var recorded));
        Assert.Equal("/orders/{id}", recorded.Endpoint);
        Assert.Equal(7, recorded.TenantId);
        Assert.Equal(LimitOutcome.Admitted, recorded.Outcome);
    }

    [Fact]
    public async Task TheQuotaUsedUp_Is429ProblemJson_AndTheEndpointDoesNotRun()
    {
        var (middleware, queue, ran) = Create(LimitOutcome.QuotaExceeded);
        var context = Request("/orders", "/orders", ("X-API-KEY", "good"));

        await middleware.InvokeAsync(context);

        Assert.False(ran.Value);
        Assert.Equal(429, context.Response.StatusCode);
        Assert.Equal("application/problem+json", context.Response.ContentType);
        var problem = Body(context);
        Assert.Equal("Plan Limit Exceeded", problem.GetProperty("title").GetString());
        Assert.True(queue.TryTake(out var recorded));
        Assert.Equal(LimitOutcome.QuotaExceeded, recorded.Outcome);
    }

    [Fact]
    public async Task AConfiguredHeader_CarriesTheKey_AndTheDefaultOneNoLonger()
    {
        var (middleware, _, ran) = Create(LimitOutcome.Admitted, o => o.ApiKeyHeader = "Authorization-Key");

        var old = Request("/orders", "/orders", ("X-API-KEY", "good"));
        await middleware.InvokeAsync(old);
        Assert.Equal(401, old.Response.StatusCode);
        Assert.Contains("Authorization-Key", Body(old).GetProperty("detail").GetString());
        Assert.False(ran.Value);

        var configured = Request("/orders", "/orders", ("Authorization-Key", "good"));
        await middleware.InvokeAsync(configured);
        Assert.Equal(200, configured.Response.StatusCode);
        Assert.True(ran.Value);
    }

    [Fact]
    public async Task OnRejected_ThatWrites_ReplacesTheAnswer_AndIsToldWhy()
    {
        MeteringRejectedContext? told = null;
        var (middleware, _, _) = Create(LimitOutcome.RateLimited, o => o.OnRejected = async (rejected, ct) =>
        {
            told = rejected;
            await rejected.HttpContext.Response.WriteAsync("slow down", ct);
        });
        var context = Request("/orders", "/orders", ("X-API-KEY", "good"));

        await middleware.InvokeAsync(context);

        Assert.Equal(MeteringRejection.RateLimited, told?.Rejection);
        Assert.Equal(7, told?.TenantId);
        Assert.Equal(429, context.Response.StatusCode);
        Assert.Equal("slow down", Text(context));
        // The headers a client needs to back off are there whatever the callback writes.
        Assert.StartsWith("\"rate\";r=0;", context.Response.Headers["RateLimit"].ToString());
        Assert.Equal("30", context.Response.Headers.RetryAfter.ToString());
    }

    [Fact]
    public async Task OnRejected_ThatWritesNothing_LeavesTheProblemJson()
    {
        var calls = 0;
        var (middleware, _, _) = Create(LimitOutcome.Admitted, o => o.OnRejected = (_, _) =>
        {
            calls++;
            return ValueTask.CompletedTask;
        });
        var context = Request("/orders", "/orders", ("X-API-KEY", "unknown"));

        await middleware.InvokeAsync(context);

        Assert.Equal(1, calls);
        Assert.Equal(401, context.Response.StatusCode);
        Assert.Equal("Unauthorized", Body(context).GetProperty("title").GetString());
    }

    [Fact]
    public async Task EndpointName_NamesTheRecordedRow()
    {
        var (middleware, queue, _) = Create(LimitOutcome.Admitted, o => o.EndpointName = c => "orders:" + c.Request.Method);
        await middleware.InvokeAsync(Request("/orders/42", "/orders/{id}", ("X-API-KEY", "good")));

        Assert.True(queue.TryTake(out var recorded));
        Assert.Equal("orders:GET", recorded.Endpoint);
    }

    [Fact]
    public async Task AnEndpointWithoutMetering_PassesUntouched()
    {
        var (middleware, queue, ran) = Create(LimitOutcome.QuotaExceeded);
        var context = new DefaultHttpContext();
        context.Request.Path = "/health";

        await middleware.InvokeAsync(context);

        Assert.True(ran.Value);
        Assert.Equal(200, context.Response.StatusCode);
        Assert.False(queue.TryTake(out _));
    }

    private static (MeteringMiddleware Middleware, UsageQueue Queue, StrongBox<bool> Ran) Create(
        LimitOutcome outcome, Action<MeteringOptions>? configure = null)
    {
        var options = new MeteringOptions();
        configure?.Invoke(options);
        var usageOptions = Options.Create(new UsageOptions());
        var queue = new UsageQueue(usageOptions, TimeProvider.System);
        var ran = new StrongBox<bool>();
        var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var middleware = new MeteringMiddleware(
            context =>
            {
                ran.Value = true;
                return Task.CompletedTask;
            },
            new OneKey(),
            new FixedDecision(outcome),
            queue,
            new UsageStorageStatus(),
            usageOptions,
            TimeProvider.System,
            services.GetRequiredService<IMeterFactory>(),
            Options.Create(new TelemetryOptions()),
            Options.Create(options),
            NullLogger<MeteringMiddleware>.Instance);
        return (middleware, queue, ran);
    }

    private static DefaultHttpContext Request(string path, string pattern, params (string Name, string Value)[] headers)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = "GET";
        context.Request.Path = path;
        foreach (var (name, value) in headers)
        {
            context.Request.Headers[name] = value;
        }

        // As a server does: the response has started once its body is written (DefaultHttpContext's never has).
        var response = new StartedOnWrite();
        context.Features.Set<Microsoft.AspNetCore.Http.Features.IHttpResponseFeature>(response);
        context.Response.Body = response.Written;
        context.RequestServices = new ServiceCollection().AddLogging().BuildServiceProvider();
        var endpoint = new RouteEndpoint(_ => Task.CompletedTask, RoutePatternFactory.Parse(pattern), 0,
            new EndpointMetadataCollection(MeteringMetadata.Full), pattern);
        context.SetEndpoint(endpoint);
        return context;
    }

    private static string Text(HttpContext context)
    {
        context.Response.Body = ((StartedOnWrite)context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpResponseFeature>()!).Written.Inner;
        context.Response.Body.Position = 0;
        return new StreamReader(context.Response.Body).ReadToEnd();
    }

    private static JsonElement Body(HttpContext context) => JsonDocument.Parse(Text(context)).RootElement;

    /// <summary>Knows one key, "good".</summary>
    private sealed class OneKey : IApiKeyStore
    {
        public ValueTask<KeyLookup> FindAsync(string? presentedKey, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(presentedKey switch
            {
                null or "" => new KeyLookup(KeyLookupResult.Missing, null),
                "good" => new KeyLookup(KeyLookupResult.Found, new ApiCaller(3, Tenant)),
                _ => new KeyLookup(KeyLookupResult.Unknown, null),
            });

        public void Evict(KeyHash hash)
        {
        }

        public void EvictTenant(long tenantId)
        {
        }
    }

    /// <summary>Decides every request the same way.</summary>
    private sealed class FixedDecision(LimitOutcome outcome) : ILimitStore
    {
        public ValueTask<LimitDecision> AcquireAsync(TenantContext tenant, int cost, CancellationToken cancellationToken = default)
        {
            var now = DateTime.UtcNow;
            var used = outcome == LimitOutcome.QuotaExceeded ? 100 : 1;
            var quota = new QuotaUsage(used, 100, QuotaPeriod.Month, new DateTime(now.Year, now.Month, 1, 0, 0, 0, DateTimeKind.Utc), now.AddDays(30));
            return ValueTask.FromResult(outcome == LimitOutcome.RateLimited
                ? new LimitDecision(outcome, quota, 10, 60, 0, now.AddSeconds(30))
                : new LimitDecision(outcome, quota, 0, 0, 0, now));
        }

        public ValueTask<QuotaUsage> PeekAsync(TenantContext tenant, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public void Forget(long tenantId)
        {
        }
    }

    private sealed class StartedOnWrite : Microsoft.AspNetCore.Http.Features.HttpResponseFeature
    {
        public StartedOnWrite() => Written = new Recording(this);

        public Recording Written { get; }

        public override bool HasStarted => Written.Inner.Length > 0;

        public sealed class Recording(StartedOnWrite owner) : Stream
        {
            public MemoryStream Inner { get; } = new();

            public StartedOnWrite Owner => owner;

            public override bool CanRead => false;

            public override bool CanSeek => false;

            public override bool CanWrite => true;

            public override long Length => Inner.Length;

            public override long Position { get => Inner.Position; set => throw new NotSupportedException(); }

            public override void Flush()
            {
            }

            public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

            public override void SetLength(long value) => throw new NotSupportedException();

            public override void Write(byte[] buffer, int offset, int count) => Inner.Write(buffer, offset, count);

            public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
                Inner.WriteAsync(buffer, cancellationToken);
        }
    }
}
