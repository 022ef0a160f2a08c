using Orders;

var builder = WebApplication.CreateBuilder(args);

// Tollgate: API keys, exact limits and usage recording, configured by the Tollgate:* keys of appsettings.json.
builder.Services.AddTollgate(builder.Configuration);
builder.Services.AddProblemDetails();
builder.Services.AddSingleton<OrderBook>();

var app = builder.Build();

app.UseExceptionHandler();
app.UseRouting();
app.UseTollgateMetering();

app.MapOrdersApi().RequireMetering();
app.MapGet("/healthz", () => TypedResults.Ok("Healthy"));

app.Run();
