namespace Tollgate.Admin;

/// <summary>
/// The admin pages: static HTML that is a client of the same JSON API scripts use. Served by this process, with
/// every asset local (no CDN), and only to a signed-in admin; without a session the cookie handler redirects to
/// <c>/login</c>.
/// </summary>
public static class Pages
{
    /// <summary>
    /// Scripts, styles and connections from this origin only: no inline script or style attribute can run, so a
    /// tenant or user name that slipped into the markup could not execute. Charts draw on a canvas, which needs none.
    /// </summary>
    private const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    /// <summary>Maps <c>/</c>, <c>/login</c>, <c>/setup</c>, <c>/plans</c>, <c>/routes</c>, <c>/tenants/{id}</c>, <c>/admins</c>, <c>/audit</c> and <c>/account</c>.</summary>
    public static IEndpointRouteBuilder MapAdminPages(this IEndpointRouteBuilder routes)
    {
        ArgumentNullException.ThrowIfNull(routes);
        var environment = routes.ServiceProvider.GetRequiredService<IWebHostEnvironment>();
        var folder = Path.Combine(environment.ContentRootPath, "Pages");
        IResult Page(string file) => TypedResults.PhysicalFile(Path.Combine(folder, file), "text/html; charset=utf-8");

        var pages = routes.MapGroup("").ExcludeFromDescription().AddEndpointFilter(async (context, next) =>
        {
            var headers = context.HttpContext.Response.Headers;
            headers.ContentSecurityPolicy = ContentSecurityPolicy;
            headers.XContentTypeOptions = "nosniff";
            headers["Referrer-Policy"] = "same-origin";
            // Pages are behind a session: never keep them in a shared or back-button cache.
            headers.CacheControl = "no-store";
            return await next(context);
        });

        pages.MapGet("/", () => Page("index.html")).RequireAuthorization(AdminPolicies.Admin);
        pages.MapGet("/tenants/{id:long}", (long id) => Page("tenant.html")).RequireAuthorization(AdminPolicies.Admin);
        pages.MapGet("/plans", () => Page("plans.html")).RequireAuthorization(AdminPolicies.Admin);
        pages.MapGet("/routes", () => Page("routes.html")).RequireAuthorization(AdminPolicies.SuperAdmin);
        pages.MapGet("/setup", () => Page("setup.html")).RequireAuthorization(AdminPolicies.SuperAdmin);
        pages.MapGet("/admins", () => Page("admins.html")).RequireAuthorization(AdminPolicies.SuperAdmin);
        pages.MapGet("/audit", () => Page("audit.html")).RequireAuthorization(AdminPolicies.Admin);
        pages.MapGet("/account", () => Page("account.html")).RequireAuthorization(AdminPolicies.SignedIn);
        pages.MapGet("/login", () => Page("login.html")).AllowAnonymous();
        return routes;
    }
}
