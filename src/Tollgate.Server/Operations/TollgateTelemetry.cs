using System.Reflection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Tollgate.Operations;

/// <summary>
/// Metrics, traces and logs through OpenTelemetry, named by its conventions: <c>/metrics</c> in Prometheus text
/// always; OTLP export (traces, metrics, logs) only when the standard <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> (or a
/// per-signal endpoint) is set. Without an exporter no tracer listens, so Tollgate's spans cost nothing: an
/// <see cref="System.Diagnostics.ActivitySource"/> with no listener hands out no activity.
/// </summary>
public static class TollgateTelemetry
{
    /// <summary>The <c>service.name</c> of every signal.</summary>
    public const string ServiceName = "tollgate";

    /// <summary>Tollgate's meters, one per feature.</summary>
    public static readonly string[] Meters = [Usage.UsageMetrics.MeterName, Metering.MeteringMetrics.MeterName, Limits.LimitMetrics.MeterName, Keys.CachedApiKeyStore.MeterName, Webhooks.WebhookMetrics.MeterName];

    /// <summary>Tollgate's activity sources, one per feature.</summary>
    public static readonly string[] ActivitySources = [Limits.LimitMetrics.ActivitySourceName, Usage.UsageTracing.ActivitySourceName];

    /// <summary>
    /// The framework's meters on <c>/metrics</c>: request duration and active requests (hosting), connections
    /// (Kestrel), unhandled exceptions (diagnostics), outgoing calls (HttpClient, the gateway's upstream).
    /// </summary>
    public static readonly string[] FrameworkMeters =
        ["Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "Microsoft.AspNetCore.Diagnostics", "System.Net.Http"];

    /// <summary>This process's <c>service.instance.id</c>: one per start, as several instances run side by side.</summary>
    public static readonly string InstanceId = Guid.NewGuid().ToString();

    /// <summary>The product version (<c>service.version</c>).</summary>
    public static string Version { get; } =
        typeof(TollgateTelemetry).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    /// <summary>Adds the metrics (exported at <c>/metrics</c>), and traces and OTLP export when configured.</summary>
    public static IServiceCollection AddTollgateTelemetry(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<Metering.TelemetryOptions>().BindConfiguration(Metering.TelemetryOptions.Section).ValidateOnStart();
        var options = configuration.GetSection(Metering.TelemetryOptions.Section).Get<Metering.TelemetryOptions>() ?? new Metering.TelemetryOptions();
        var telemetry = services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(ServiceName, serviceVersion: Version, serviceInstanceId: InstanceId))
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(Meters);
                if (options.FrameworkMetrics)
                {
                    // The framework's meters by name rather than AddAspNetCoreInstrumentation(), which also listens
                    // to routing and memory-pool counters that record several times per request and tell an operator
                    // little (bench/run telemetry: see docs/benchmarks.md for what each costs per request).
                    metrics.AddMeter(FrameworkMeters).AddRuntimeInstrumentation();
                }

                metrics.AddPrometheusExporter();
            });
        if (OtlpConfigured(configuration))
        {
            telemetry.WithTracing(tracing => tracing.AddTollgateInstrumentation()).UseOtlpExporter();
        }

        return services;
    }

    /// <summary>
    /// The spans of a Tollgate request: ASP.NET Core's server span (enriched with tenant, outcome and route by the
    /// metering middleware), the Redis decision, HttpClient calls (the gateway's upstream, with W3C
    /// <c>traceparent</c> propagated), Redis commands and the usage writer's batches. Health and metrics scrapes are
    /// left out: they would be most of the traces and tell nothing.
    /// </summary>
    public static TracerProviderBuilder AddTollgateInstrumentation(this TracerProviderBuilder tracing)
    {
        ArgumentNullException.ThrowIfNull(tracing);
        return tracing
            .AddSource(ActivitySources)
            .AddAspNetCoreInstrumentation(o => o.Filter = context =>
                !context.Request.Path.StartsWithSegments("/metrics") && !context.Request.Path.StartsWithSegments("/healthz")
                && !context.Request.Path.StartsWithSegments("/readyz"))
            .AddHttpClientInstrumentation()
            // Redis command spans are collected by a profiler and handed over on this interval (default 10 s).
            .AddRedisInstrumentation(o => o.FlushInterval = TimeSpan.FromSeconds(1));
    }

    private static bool OtlpConfigured(IConfiguration configuration) =>
        !string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"])
        || !string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]);
}
