namespace Tollgate.Admin;

/// <summary>
/// The admin pages: static HTML that is a client of the same JSON API scripts use. Served by this process, with
/// every asset local (no CDN), and only to a signed-in admin; without a session the cookie handler redirects to
/// <c>/login</c>.
/// </summary>
public static class Pages
{
    /// <summary>Maps <c>/</c>, <c>/login</c> and <c>/setup</c>.</summary>
    public static IEndpointRouteBuilder MapAdminPages(this IEndpointRouteBuilder routes)
    {
        ArgumentNullException.ThrowIfNull(routes);
        var environment = routes.ServiceProvider.GetRequiredService<IWebHostEnvironment>();
        var folder = Path.Combine(environment.ContentRootPath, "Pages");
        IResult Page(string file) => TypedResults.PhysicalFile(Path.Combine(folder, file), "text/html; charset=utf-8");

        routes.MapGet("/", () => Page("index.html")).RequireAuthorization(AdminPolicies.Admin).ExcludeFromDescription();
        routes.MapGet("/setup", () => Page("setup.html")).RequireAuthorization(AdminPolicies.SuperAdmin).ExcludeFromDescription();
        routes.MapGet("/login", () => Page("login.html")).AllowAnonymous().ExcludeFromDescription();
        return routes;
    }
}
