// YARP with routes from the standard ReverseProxy section (given on the command line by bench/run), nothing else;
// with Telemetry=true, also the framework metrics Tollgate exports (bench/Shared/BenchTelemetry.cs).
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
builder.Services.AddReverseProxy().LoadFromConfig(builder.Configuration.GetSection("ReverseProxy"));
var telemetry = BenchTelemetry.AddIfAsked(builder);

var app = builder.Build();
if (telemetry)
{
    BenchTelemetry.Map(app);
}

app.MapReverseProxy();
app.Run();
