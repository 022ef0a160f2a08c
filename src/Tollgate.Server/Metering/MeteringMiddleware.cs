using System.Diagnostics;
using System.Globalization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Tollgate.Data;
using Tollgate.Keys;
using Tollgate.Limits;
using Tollgate.Usage;

namespace Tollgate.Metering;

/// <summary>
/// The request path of every endpoint that carries <see cref="MeteringMetadata"/>:
/// Keys (who calls?) → Limits (may they?) → the endpoint → Usage (record it, off the request path).
/// Endpoints without the metadata pass straight through without an async state machine.
/// </summary>
internal sealed partial class MeteringMiddleware(
    RequestDelegate next,
    IApiKeyStore keys,
    ILimitStore limits,
    IUsageSink usage,
    IOptions<UsageOptions> usageOptions,
    TimeProvider time,
    ILogger<MeteringMiddleware> logger)
{
    /// <summary>The header tenants send their key in.</summary>
    public const string ApiKeyHeader = "X-API-KEY";

    private readonly bool _synchronous = usageOptions.Value.Durability == UsageDurability.Synchronous;

    public Task InvokeAsync(HttpContext context)
    {
        var metadata = context.GetEndpoint()?.Metadata.GetMetadata<MeteringMetadata>();
        return metadata is null ? next(context) : MeterAsync(context, metadata);
    }

    private async Task MeterAsync(HttpContext context, MeteringMetadata metadata)
    {
        var started = Stopwatch.GetTimestamp();
        var headerValues = context.Request.Headers[ApiKeyHeader];
        // Two X-API-KEY headers are ambiguous: refuse rather than guess which one counts.
        var lookup = headerValues.Count > 1
            ? new KeyLookup(KeyLookupResult.Unknown, null)
            : await keys.FindAsync(headerValues.ToString(), context.RequestAborted);
        if (lookup.Caller is not { } caller)
        {
            await WriteProblemAsync(context, StatusCodes.Status401Unauthorized, "Unauthorized", lookup.Result switch
            {
                KeyLookupResult.Missing => $"Send your API key in the {ApiKeyHeader} header.",
                KeyLookupResult.Revoked => "This API key has been revoked.",
                KeyLookupResult.Expired => "This API key has expired.",
                _ => "The API key is not valid.",
            });
            return;
        }

        if (caller.Tenant.Status == TenantStatus.Suspended)
        {
            await WriteProblemAsync(context, StatusCodes.Status403Forbidden, "Forbidden", "This tenant is suspended.");
            return;
        }

        context.Features.Set(caller);
        if (!metadata.Metered)
        {
            await next(context);
            return;
        }

        LimitDecision decision;
        try
        {
            decision = await limits.AcquireAsync(caller.Tenant, metadata.Cost, context.RequestAborted);
        }
        catch (LimitStoreUnavailableException ex)
        {
            context.Response.Headers.RetryAfter = "1";
            await WriteProblemAsync(context, StatusCodes.Status503ServiceUnavailable, "Service Unavailable", ex.Message);
            return;
        }

        var now = time.GetUtcNow().UtcDateTime;
        RateLimitHeaders.Write(context.Response.Headers, decision, now);
        // Synchronous durability: the answer is buffered and only sent once its usage event is committed, so a
        // client that saw an answer has its row even if the process dies the next instant.
        var body = context.Response.Body;
        var buffer = _synchronous ? new MemoryStream() : null;
        if (buffer is not null)
        {
            context.Response.Body = buffer;
        }

        var status = StatusCodes.Status500InternalServerError;
        var queued = true;
        try
        {
            if (decision.Admitted)
            {
                await next(context);
            }
            else
            {
                await WriteRefusalAsync(context, decision, now);
            }

            status = context.Response.StatusCode;
        }
        finally
        {
            // Recorded even when the endpoint throws (as the 500 it becomes) or the client went away.
            context.Response.Body = body;
            var usageEvent = Event(context, metadata, caller, decision, now, started, status);
            if (buffer is null)
            {
                await RecordAsync(usageEvent);
            }
            else
            {
                var receipt = new UsageReceipt();
                queued = await RecordAsync(usageEvent with { Receipt = receipt });
                if (queued)
                {
                    await receipt.Stored;
                }
            }
        }

        if (buffer is not null)
        {
            await using (buffer)
            {
                if (!queued && !context.Response.HasStarted)
                {
                    // The writer has already stopped (a request outliving the server's shutdown grace period): its
                    // row cannot be stored, so the answer must not leave as if it had been.
                    context.Response.Clear();
                    context.Response.Headers.RetryAfter = "1";
                    await WriteProblemAsync(context, StatusCodes.Status503ServiceUnavailable, "Service Unavailable",
                        "Tollgate is stopping and could not record this request; retry.");
                    return;
                }

                buffer.Position = 0;
                await buffer.CopyToAsync(body, context.RequestAborted);
            }
        }
    }

    private static UsageEvent Event(
        HttpContext context, MeteringMetadata metadata, ApiCaller caller, in LimitDecision decision, DateTime now, long started, int status) =>
        new(
            caller.Tenant.Id,
            caller.KeyId,
            now,
            context.Request.Method,
            (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? context.Request.Path.Value ?? "",
            status,
            (long)Stopwatch.GetElapsedTime(started).TotalMicroseconds,
            decision.Outcome,
            decision.Quota.Period,
            decision.Quota.PeriodStart)
        {
            Unshared = decision.Unshared,
            Cost = metadata.Cost,
            // Hosted endpoints skip the feature lookup: only the gateway's pipeline sets it.
            UpstreamLatencyMicros = metadata.Proxied ? context.Features.Get<UpstreamTiming>()?.Micros ?? 0 : 0,
        };

    /// <summary>Queues the event; false when the writer has already stopped and the event is lost.</summary>
    private async ValueTask<bool> RecordAsync(UsageEvent usageEvent)
    {
        try
        {
            await usage.RecordAsync(usageEvent);
            return true;
        }
        catch (System.Threading.Channels.ChannelClosedException)
        {
            // Only after the writer has been told to stop; the server has stopped taking requests by then.
            LogLateEvent(logger, usageEvent.TenantId);
            return false;
        }
    }

    private static Task WriteRefusalAsync(HttpContext context, in LimitDecision decision, DateTime now)
    {
        var quota = decision.Quota;
        if (decision.Outcome == LimitOutcome.QuotaExceeded)
        {
            var resetAt = quota.ResetAt.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
            return WriteProblemAsync(
                context,
                StatusCodes.Status429TooManyRequests,
                "Plan Limit Exceeded",
                string.Create(CultureInfo.InvariantCulture,
                    $"Usage: {quota.Used}/{quota.Limit} requests this {QuotaPeriods.Noun(quota.Period)}. Blocked until {resetAt}."),
                new Dictionary<string, object?> { ["limit"] = quota.Limit, ["used"] = quota.Used, ["resetAt"] = quota.ResetAt });
        }

        var retry = RateLimitHeaders.SecondsUntil(decision.RateResetAt, now);
        return WriteProblemAsync(
            context,
            StatusCodes.Status429TooManyRequests,
            "Rate Limit Exceeded",
            string.Create(CultureInfo.InvariantCulture,
                $"More than {decision.RateLimit} requests in {decision.RateWindowSeconds} s. Retry in {Math.Max(1, retry)} s."),
            new Dictionary<string, object?> { ["limit"] = decision.RateLimit, ["windowSeconds"] = decision.RateWindowSeconds, ["resetAt"] = decision.RateResetAt });
    }

    private static Task WriteProblemAsync(
        HttpContext context, int status, string title, string detail, IDictionary<string, object?>? extensions = null)
    {
        var problem = new ProblemDetails
        {
            Status = status,
            Title = title,
            Detail = detail,
            Type = status switch
            {
                401 => "https://tools.ietf.org/html/rfc9110#section-15.5.2",
                403 => "https://tools.ietf.org/html/rfc9110#section-15.5.4",
                503 => "https://tools.ietf.org/html/rfc9110#section-15.6.4",
                _ => "https://tools.ietf.org/html/rfc6585#section-4",
            },
        };
        if (extensions is not null)
        {
            foreach (var (key, value) in extensions)
            {
                problem.Extensions[key] = value;
            }
        }

        return TypedResults.Problem(problem).ExecuteAsync(context);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "A usage event of tenant {TenantId} arrived after the writer stopped")]
    private static partial void LogLateEvent(ILogger logger, long tenantId);
}

/// <summary>Adds the metering pipeline.</summary>
public static class MeteringApplicationBuilderExtensions
{
    /// <summary>
    /// Adds the metering middleware. Must come after routing (it reads the endpoint) and needs
    /// AddTollgateKeys, AddTollgateLimits and AddTollgateUsage.
    /// </summary>
    public static IApplicationBuilder UseTollgateMetering(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        if (app.ApplicationServices.GetService<IApiKeyStore>() is null
            || app.ApplicationServices.GetService<ILimitStore>() is null
            || app.ApplicationServices.GetService<IUsageSink>() is null)
        {
            throw new InvalidOperationException(
                "UseTollgateMetering needs AddTollgateKeys(), AddTollgateLimits() and AddTollgateUsage() in ConfigureServices.");
        }

        return app.UseMiddleware<MeteringMiddleware>();
    }
}
