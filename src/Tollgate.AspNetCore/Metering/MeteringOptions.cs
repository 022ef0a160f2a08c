namespace Tollgate.Metering;

/// <summary>
/// Options of the metering middleware, bound from <c>Tollgate:Metering</c> (the header name) and set in code through
/// <c>AddTollgate(configuration, options =&gt; …)</c> (the callbacks).
/// </summary>
public sealed class MeteringOptions
{
    /// <summary>Configuration section.</summary>
    public const string Section = "Tollgate:Metering";

    /// <summary>The request header that carries the API key; <c>X-API-KEY</c> by default (CONTRACT §3).</summary>
    public string ApiKeyHeader { get; set; } = MeteringMiddleware.DefaultApiKeyHeader;

    /// <summary>
    /// Called when Tollgate refuses a request (401, 403, 429 or 503), after the rate-limit headers are set and before
    /// the default problem+json is written; a callback that starts the response replaces that answer. As ASP.NET
    /// Core's <c>RateLimiterOptions.OnRejected</c>.
    /// </summary>
    public Func<MeteringRejectedContext, CancellationToken, ValueTask>? OnRejected { get; set; }

    /// <summary>
    /// The endpoint name the usage log records for a request; by default the endpoint's route pattern
    /// (<c>/orders/{id}</c>, so that one row name covers every id), else the path.
    /// </summary>
    public Func<HttpContext, string>? EndpointName { get; set; }
}

/// <summary>Why Tollgate refused a request.</summary>
public enum MeteringRejection
{
    /// <summary>401: no key, an unknown, revoked or expired key.</summary>
    Unauthorized,

    /// <summary>403: the tenant is suspended.</summary>
    Suspended,

    /// <summary>429: the rate window is full.</summary>
    RateLimited,

    /// <summary>429: the period's quota is used up.</summary>
    QuotaExceeded,

    /// <summary>503: the limits or the usage storage cannot decide or record now.</summary>
    Unavailable,
}

/// <summary>What <see cref="MeteringOptions.OnRejected"/> is told of a refusal.</summary>
/// <param name="HttpContext">The request; its response still unstarted.</param>
/// <param name="Rejection">Why it was refused.</param>
/// <param name="StatusCode">The status the default answer has (already set on the response).</param>
/// <param name="TenantId">The caller's tenant, when the key was known.</param>
public sealed record MeteringRejectedContext(HttpContext HttpContext, MeteringRejection Rejection, int StatusCode, long? TenantId);
