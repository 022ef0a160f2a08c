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
// Outside Development, a build output run in place (dotnet run, bench/run, the tests) serves wwwroot as published
// output would. Left on, the framework's reloading of changed static assets maps a catch-all fallback whose
// file-exists constraint the router evaluates for every request, a stat of the disk per tenant call (about 5 µs of
// server CPU per ping; `bench/run ping`, 2026-12-01). Configuration can still turn it on.
if (!builder.Environment.IsDevelopment())
{
    builder.Configuration["ReloadStaticAssetsAtRuntime"] ??= "false";
}

builder.Services.AddTollgate(builder.Configuration);
builder.Services.AddTollgateAdmin();
builder.Services.AddTollgateOperations();
builder.Services.AddTollgateTelemetry(builder.Configuration);
builder.Services.AddTollgateGateway(builder.Configuration);
builder.Services.AddTollgateWebhooks();

var app = builder.Build();

app.UseTollgateErrors();
app.UseRouting();
app.UseTollgateStatusCodePages();
app.UseTollgateMetering();
// Tenant calls never pay for the admin side's cookie handling (≈ 1.4 µs a request in the profile of
// docs/benchmarks.md): authentication and authorization run only for endpoints outside the metering pipeline, and
// not for the gateway's routes either: an unmetered proxied route ran the admin side's authentication, authorization
// and HSTS for every request (a fifth of its server CPU samples under perf, 2026-12-01), for nothing it uses.
app.UseWhen(
    context => context.GetEndpoint()?.Metadata is not { } metadata
        || (metadata.GetMetadata<MeteringMetadata>() is null && metadata.GetMetadata<Yarp.ReverseProxy.Model.RouteModel>() is null),
    admin => admin.UseTollgateAdmin());
// A UseWhen branch keeps its own copy of the builder's properties, so the host did not see the branch's
// UseAuthentication/UseAuthorization and added both again at the head of the pipeline, for every tenant call too
// (found in the perf profile of 2026-12-01). The host's own markers say they are in place.
((IApplicationBuilder)app).Properties["__AuthenticationMiddlewareSet"] = true;
((IApplicationBuilder)app).Properties["__AuthorizationMiddlewareSet"] = true;

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
