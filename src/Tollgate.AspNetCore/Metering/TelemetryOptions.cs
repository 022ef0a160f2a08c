namespace Tollgate.Metering;

/// <summary>Options bound from <c>Tollgate:Telemetry</c>: what <c>/metrics</c> and the OTLP exporter carry.</summary>
public sealed class TelemetryOptions
{
    /// <summary>Configuration section.</summary>
    public const string Section = "Tollgate:Telemetry";

    /// <summary>
    /// The framework's own instruments beside Tollgate's: ASP.NET Core (<c>http.server.request.duration</c>, active
    /// requests), Kestrel connections, HttpClient (the gateway's upstream calls) and the .NET runtime (GC, heap, thread
    /// pool, exceptions). Default true; each costs a little per request while something listens (bench/run telemetry).
    /// </summary>
    public bool FrameworkMetrics { get; set; } = true;

    /// <summary>
    /// Adds the tenant's id to the metering decision counter. Default false: one series per tenant, route and outcome
    /// can reach millions of series on a large platform, which Prometheus is not built for; per-tenant figures are in
    /// the dashboard and the admin API.
    /// </summary>
    public bool PerTenantMetrics { get; set; }
}
