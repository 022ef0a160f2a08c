var builder = WebApplication.CreateSlimBuilder(args);
// No request logging at all: the baseline does nothing but answer. With Telemetry=true it also exports the framework
// metrics Tollgate exports (bench/Shared/BenchTelemetry.cs).
builder.Logging.ClearProviders();
var telemetry = BenchTelemetry.AddIfAsked(builder);

var app = builder.Build();
if (telemetry)
{
    BenchTelemetry.Map(app);
}

app.MapGet("/api/v1/ping", static () => TypedResults.Ok(new PingResponse("Acme Corp")));
app.Run();

/// <summary>The same shape as Tollgate's <c>GET /api/v1/ping</c> answer.</summary>
/// <param name="Tenant">The tenant name.</param>
internal sealed record PingResponse(string Tenant);
