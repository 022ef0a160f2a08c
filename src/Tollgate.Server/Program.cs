using Tollgate.Admin;
using Tollgate.Gateway;
using Tollgate.Metering;
using Tollgate.Operations;
using Tollgate.TenantApi;
using Tollgate.Webhooks;

// The app's own folder is its content root (appsettings.json, wwwroot), whatever the working directory: a
// service started as `dotnet /opt/tollgate/Tollgate.Server.dll` from / finds its files. --contentRoot or
// ASPNETCORE_CONTENTROOT still choose another (README, "Deploy").
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppFolderUnlessGiven(args) });
// Run from the build output (dotnet run, the tests) in any environment, wwwroot is found through the build's static
// web assets manifest; the published output has its own wwwroot and no such manifest, and this then does nothing.
builder.WebHost.UseStaticWebAssets();

builder.Services.AddTollgate(builder.Configuration);
builder.Services.AddTollgateAdmin();
builder.Services.AddTollgateOperations();
builder.Services.AddTollgateTelemetry(builder.Configuration);
builder.Services.AddTollgateGateway(builder.Configuration);
builder.Services.AddTollgateWebhooks();

var app = builder.Build();

app.UseTollgateErrors();
app.UseRouting();
app.UseTollgateMetering();
// Tenant calls never pay for the admin side's cookie handling (≈ 1.4 µs a request in the profile of
// docs/benchmarks.md): authentication and authorization run only for endpoints outside the metering pipeline.
app.UseWhen(
    context => context.GetEndpoint()?.Metadata.GetMetadata<MeteringMetadata>() is null,
    admin => admin.UseTollgateAdmin());

app.MapTenantApi();
app.MapAdminApi();
app.MapWebhooksApi();
app.MapAdminPages();
app.MapOperations();
app.MapGateway();

app.Run();

// The same sources, in the same order, as the host reads contentRoot from; null lets the host apply the one given.
static string? AppFolderUnlessGiven(string[] args) =>
    new ConfigurationBuilder().AddEnvironmentVariables("ASPNETCORE_").AddEnvironmentVariables("DOTNET_").AddCommandLine(args)
        .Build()[WebHostDefaults.ContentRootKey] is null ? AppContext.BaseDirectory : null;

/// <summary>The entry point; public so functional tests can host it with <c>WebApplicationFactory&lt;Program&gt;</c>.</summary>
public partial class Program;
