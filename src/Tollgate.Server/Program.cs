using Tollgate.Admin;
using Tollgate.Gateway;
using Tollgate.Metering;
using Tollgate.Operations;
using Tollgate.TenantApi;

var builder = WebApplication.CreateBuilder(args);

builder.Services.AddTollgate(builder.Configuration);
builder.Services.AddTollgateAdmin();
builder.Services.AddTollgateOperations();
builder.Services.AddTollgateTelemetry(builder.Configuration);
builder.Services.AddTollgateGateway(builder.Configuration);

var app = builder.Build();

app.UseTollgateErrors();
app.UseRouting();
app.UseTollgateMetering();
// Tenant calls never pay for the admin side's cookie handling (≈ 1.4 µs a request in the profile of
// docs/benchmarks.md): authentication and authorization run only for endpoints outside the metering pipeline.
app.UseWhen(
    context => context.GetEndpoint()?.Metadata.GetMetadata<MeteringMetadata>() is null,
    admin => admin.UseTollgateAdmin());
app.UseStaticFiles();

app.MapTenantApi();
app.MapAdminApi();
app.MapAdminPages();
app.MapOperations();
app.MapGateway();

app.Run();

/// <summary>The entry point; public so functional tests can host it with <c>WebApplicationFactory&lt;Program&gt;</c>.</summary>
public partial class Program;
