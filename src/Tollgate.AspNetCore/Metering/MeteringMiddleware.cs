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
    UsageStorageStatus storage,
    IOptions<UsageOptions> usageOptions,
    TimeProvider time,
    System.Diagnostics.Metrics.IMeterFactory meters,
    IOptions<TelemetryOptions> telemetry,
    IOptions<MeteringOptions> meteringOptions,
    ILogger<MeteringMiddleware> logger)
{
    /// <summary>The header tenants send their key in unless <see cref="MeteringOptions.ApiKeyHeader"/> names another.</summary>
    public const string DefaultApiKeyHeader = "X-API-KEY";

    private readonly string _apiKeyHeader = meteringOptions.Value.ApiKeyHeader;
    private readonly Func<MeteringRejectedContext, CancellationToken, ValueTask>? _onRejected = meteringOptions.Value.OnRejected;
    private readonly Func<HttpContext, string>? _endpointName = meteringOptions.Value.EndpointName;

    private readonly bool _synchronous = usageOptions.Value.Durability == UsageDurability.Synchronous;
    private readonly MeteringMetrics _metrics = new(meters, telemetry.Value);
    private readonly bool _refuseUnrecorded = usageOptions.Value.WhenStorageFails == StorageFailurePolicy.Refuse;
    private readonly TimeSpan _maxRecordWait = usageOptions.Value.MaxRecordWait;

    public Task InvokeAsync(HttpContext context)
    {
        var metadata = context.GetEndpoint()?.Metadata.GetMetadata<MeteringMetadata>();
        return metadata is null ? next(context) : MeterAsync(context, metadata);
    }

    private async Task MeterAsync(HttpContext context, MeteringMetadata metadata)
    {
        var started = Stopwatch.GetTimestamp();
        var headerValues = context.Request.Headers[_apiKeyHeader];
        // Two X-API-KEY headers are ambiguous: refuse rather than guess which one counts.
        var lookup = headerValues.Count > 1
            ? new KeyLookup(KeyLookupResult.Unknown, null)
            : await keys.FindAsync(headerValues.ToString(), context.RequestAborted);
        if (lookup.Caller is not { } caller)
        {
            _metrics.Decided(context, MeteringDecision.Unauthorized);
            await RejectAsync(context, MeteringRejection.Unauthorized, null, StatusCodes.Status401Unauthorized, "Unauthorized", lookup.Result switch
            {
                KeyLookupResult.Missing => $"Send your API key in the {_apiKeyHeader} header.",
                KeyLookupResult.Revoked => "This API key has been revoked.",
                KeyLookupResult.Expired => "This API key has expired.",
                _ => "The API key is not valid.",
            });
            return;
        }

        if (caller.Tenant.Status == TenantStatus.Suspended)
        {
            _metrics.Decided(context, MeteringDecision.Suspended, caller.Tenant.Id);
            await RejectAsync(context, MeteringRejection.Suspended, caller.Tenant.Id, StatusCodes.Status403Forbidden, "Forbidden", "This tenant is suspended.");
            return;
        }

        context.Features.Set(caller);
        if (!metadata.Metered)
        {
            await next(context);
            return;
        }

        // Room for the usage event is reserved before the limits count the request: under Refuse nothing is admitted
        // that cannot be recorded, and a request never waits for the writer longer than MaxRecordWait.
        if (storage.Refusing)
        {
            await RefuseUnrecordedAsync(context);
            return;
        }

        var reserved = usage.TryReserve() || await usage.ReserveAsync(context.RequestAborted);
        if (!reserved && _refuseUnrecorded)
        {
            await RefuseUnrecordedAsync(context);
            return;
        }

        LimitDecision decision;
        try
        {
            decision = await limits.AcquireAsync(caller.Tenant, metadata.Cost, context.RequestAborted);
        }
        catch (LimitStoreUnavailableException ex)
        {
            _metrics.Decided(context, MeteringDecision.Unavailable, caller.Tenant.Id);
            Unreserve(reserved);
            context.Response.Headers.RetryAfter = "1";
            await RejectAsync(context, MeteringRejection.Unavailable, caller.Tenant.Id, StatusCodes.Status503ServiceUnavailable, "Service Unavailable", ex.Message);
            return;
        }
        catch
        {
            Unreserve(reserved);
            throw;
        }

        _metrics.Decided(context, decision.Outcome switch
        {
            LimitOutcome.Admitted => MeteringDecision.Admitted,
            LimitOutcome.RateLimited => MeteringDecision.Rate,
            _ => MeteringDecision.Quota,
        }, caller.Tenant.Id);
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
        var recorded = true;
        try
        {
            if (decision.Admitted)
            {
                await next(context);
            }
            else
            {
                await WriteRefusalAsync(context, decision, now, caller.Tenant.Id);
            }

            status = context.Response.StatusCode;
        }
        finally
        {
            // Recorded even when the endpoint throws (as the 500 it becomes) or the client went away.
            if (buffer is not null)
            {
                // Only when it was swapped: setting Body, even to the stream it already is, wraps the response's body
                // feature in a new one for the rest of the request.
                context.Response.Body = body;
            }

            var usageEvent = Event(context, metadata, caller, decision, now, started, status);
            if (buffer is null)
            {
                Record(usageEvent, reserved);
            }
            else
            {
                var receipt = new UsageReceipt();
                recorded = Record(usageEvent with { Receipt = receipt }, reserved)
                    && await StoredInTimeAsync(receipt);
            }
        }

        if (buffer is not null)
        {
            await using (buffer)
            {
                if (!recorded && !context.Response.HasStarted)
                {
                    // Its row is not stored (the writer stopped, or storage did not take it in time), so the answer
                    // must not leave as if it had been.
                    context.Response.Clear();
                    context.Response.Headers.RetryAfter = "1";
                    await WriteProblemAsync(context, StatusCodes.Status503ServiceUnavailable, "Service Unavailable",
                        "Tollgate could not record this request in time; retry.");
                    return;
                }

                buffer.Position = 0;
                await buffer.CopyToAsync(body, context.RequestAborted);
            }
        }
    }

    /// <summary>The 503 of a request whose usage could be recorded nowhere (WhenStorageFails=Refuse).</summary>
    private Task RefuseUnrecordedAsync(HttpContext context)
    {
        storage.Refused();
        _metrics.Decided(context, MeteringDecision.Unavailable);
        context.Response.Headers.RetryAfter = "5";
        return RejectAsync(context, MeteringRejection.Unavailable, null, StatusCodes.Status503ServiceUnavailable, "Service Unavailable",
            "Tollgate cannot record usage right now (database and spool unavailable), so it admits nothing; retry later.");
    }

    private void Unreserve(bool reserved)
    {
        if (reserved)
        {
            usage.Unreserve();
        }
    }

    /// <summary>Queues the event (or, under Admit with no room, drops its raw row); false when the writer has stopped.</summary>
    private bool Record(in UsageEvent usageEvent, bool reserved)
    {
        if (reserved || usage.TryReserve())
        {
            if (usage.Enqueue(usageEvent))
            {
                return true;
            }

            // Only after the writer has been told to stop; the server has stopped taking requests by then.
            LogLateEvent(logger, usageEvent.TenantId);
            return false;
        }

        // WhenStorageFails=Admit and the queue stayed full: served without its raw row, which is counted.
        usage.Drop(usageEvent);
        storage.Dropped(1);
        usageEvent.Receipt?.Complete();
        return true;
    }

    private async ValueTask<bool> StoredInTimeAsync(UsageReceipt receipt)
    {
        try
        {
            await receipt.Stored.WaitAsync(_maxRecordWait, time);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    private UsageEvent Event(
        HttpContext context, MeteringMetadata metadata, ApiCaller caller, in LimitDecision decision, DateTime now, long started, int status) =>
        new(
            caller.Tenant.Id,
            caller.KeyId,
            now,
            context.Request.Method,
            _endpointName?.Invoke(context) ?? (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? context.Request.Path.Value ?? "",
            status,
            (long)Stopwatch.GetElapsedTime(started).TotalMicroseconds,
            decision.Outcome,
            decision.Quota.Period,
            decision.Quota.PeriodStart)
        {
            Unshared = decision.Unshared,
            Cost = metadata.Cost,
            // A few integer comparisons per admitted request, and an allocation only for the one request of a period
            // that crosses a threshold: its event carries the crossing to the writer, which stores the alert with it.
            Crossing = decision.Admitted ? Alerts.QuotaThresholds.Crossed(caller.Tenant.AlertThresholds, decision.Quota, metadata.Cost) : null,
            // Hosted endpoints skip the feature lookup: only the gateway's pipeline sets it.
            UpstreamLatencyMicros = metadata.Proxied ? context.Features.Get<UpstreamTiming>()?.Micros ?? 0 : 0,
        };

    private Task WriteRefusalAsync(HttpContext context, in LimitDecision decision, DateTime now, long tenantId)
    {
        var quota = decision.Quota;
        if (decision.Outcome == LimitOutcome.QuotaExceeded)
        {
            var resetAt = quota.ResetAt.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
            return RejectAsync(
                context,
                MeteringRejection.QuotaExceeded,
                tenantId,
                StatusCodes.Status429TooManyRequests,
                "Plan Limit Exceeded",
                string.Create(CultureInfo.InvariantCulture,
                    $"Usage: {quota.Used}/{quota.Limit} requests this {QuotaPeriods.Noun(quota.Period)}. Blocked until {resetAt}."),
                new Dictionary<string, object?> { ["limit"] = quota.Limit, ["used"] = quota.Used, ["resetAt"] = quota.ResetAt });
        }

        var retry = RateLimitHeaders.SecondsUntil(decision.RateResetAt, now);
        return RejectAsync(
            context,
            MeteringRejection.RateLimited,
            tenantId,
            StatusCodes.Status429TooManyRequests,
            "Rate Limit Exceeded",
            string.Create(CultureInfo.InvariantCulture,
                $"More than {decision.RateLimit} requests in {decision.RateWindowSeconds} s. Retry in {Math.Max(1, retry)} s."),
            new Dictionary<string, object?> { ["limit"] = decision.RateLimit, ["windowSeconds"] = decision.RateWindowSeconds, ["resetAt"] = decision.RateResetAt });
    }

    /// <summary>Lets <see cref="MeteringOptions.OnRejected"/> answer first; writes the problem+json when it did not.</summary>
    private async Task RejectAsync(
        HttpContext context, MeteringRejection rejection, long? tenantId, int status, string title, string detail,
        IDictionary<string, object?>? extensions = null)
    {
        if (_onRejected is not null)
        {
            context.Response.StatusCode = status;
            await _onRejected(new MeteringRejectedContext(context, rejection, status, tenantId), context.RequestAborted);
            if (context.Response.HasStarted)
            {
                return;
            }
        }

        await WriteProblemAsync(context, status, title, detail, extensions);
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
