using System.Runtime.CompilerServices;
using OpenTelemetry.Metrics;

// YARP with routes from the standard ReverseProxy section (given on the command line by bench/run), nothing else.
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
builder.Services.AddReverseProxy().LoadFromConfig(builder.Configuration.GetSection("ReverseProxy"));

// Telemetry=true: also the framework metrics Tollgate exports, so that bench/run can tell what the gateway's metering
// costs from what that telemetry costs any ASP.NET Core proxy that exports it. Off, this is YARP as it comes.
var telemetry = builder.Configuration.GetValue<bool>("Telemetry");
if (telemetry)
{
    AddTelemetry(builder.Services);
}

var app = builder.Build();
if (telemetry)
{
    MapTelemetry(app);
}

app.MapReverseProxy();
app.Run();

// TollgateTelemetry.FrameworkMeters and the runtime's, exported on /metrics in Prometheus text as Tollgate does. Kept
// out of line so that OpenTelemetry's assemblies are not even loaded when telemetry is off.
[MethodImpl(MethodImplOptions.NoInlining)]
static void AddTelemetry(IServiceCollection services) =>
    services.AddOpenTelemetry().WithMetrics(metrics => metrics
        .AddMeter("Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "Microsoft.AspNetCore.Diagnostics", "System.Net.Http")
        .AddRuntimeInstrumentation()
        .AddPrometheusExporter());

[MethodImpl(MethodImplOptions.NoInlining)]
static void MapTelemetry(WebApplication app) => app.MapPrometheusScrapingEndpoint();
