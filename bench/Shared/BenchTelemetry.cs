using System.Runtime.CompilerServices;
using OpenTelemetry.Metrics;

/// <summary>
/// <c>Telemetry=true</c> on a bench app's command line: the framework metrics Tollgate exports
/// (<c>TollgateTelemetry.FrameworkMeters</c> and the runtime's, Prometheus text on <c>/metrics</c>), so that bench/run
/// can tell what Tollgate's metering costs from what that telemetry costs any ASP.NET Core app. Linked into
/// bench/Baseline and bench/PlainYarp.
/// </summary>
internal static class BenchTelemetry
{
    /// <summary>Adds the metrics when the configuration asks for them; true when it did.</summary>
    public static bool AddIfAsked(WebApplicationBuilder builder)
    {
        if (!builder.Configuration.GetValue<bool>("Telemetry"))
        {
            return false;
        }

        Add(builder.Services);
        return true;
    }

    /// <summary>Serves <c>/metrics</c>.</summary>
    // Out of line, as Add: without telemetry, OpenTelemetry's assemblies are not even loaded.
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Map(WebApplication app) => app.MapPrometheusScrapingEndpoint();

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Add(IServiceCollection services) =>
        services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter("Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "Microsoft.AspNetCore.Diagnostics", "System.Net.Http")
            .AddRuntimeInstrumentation()
            .AddPrometheusExporter());
}
