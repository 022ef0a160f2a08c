using System.Runtime.CompilerServices;
using OpenTelemetry.Metrics;

var builder = WebApplication.CreateSlimBuilder(args);
// No request logging at all: the baseline does nothing but answer.
builder.Logging.ClearProviders();

// Telemetry=true: also the framework metrics Tollgate exports, so that bench/run can tell what Tollgate's metering
// costs a ping from what that telemetry costs any ASP.NET Core app that exports it. Off, the baseline only answers.
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

app.MapGet("/api/v1/ping", static () => TypedResults.Ok(new PingResponse("Acme Corp")));
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

/// <summary>The same shape as Tollgate's <c>GET /api/v1/ping</c> answer.</summary>
/// <param name="Tenant">The tenant name.</param>
internal sealed record PingResponse(string Tenant);
