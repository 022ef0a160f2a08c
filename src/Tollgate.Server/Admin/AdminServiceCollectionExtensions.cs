using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Mvc;
using Tollgate.Data;

namespace Tollgate.Admin;

/// <summary>Registers and maps the admin side.</summary>
public static class AdminServiceCollectionExtensions
{
    /// <summary>Adds cookie sessions, the admin policies, the first-start admin and the demo data.</summary>
    public static IServiceCollection AddTollgateAdmin(this IServiceCollection services)
    {
        services.AddOptions<AdminOptions>().BindConfiguration(AdminOptions.Section).ValidateOnStart();
        services.AddOptions<TollgateOptions>().BindConfiguration(TollgateOptions.Section).ValidateOnStart();
        services.AddSingleton<DemoData>();
        services.AddSingleton<IStartupSeeder, AdminSeeder>();

        services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme)
            .AddCookie(options =>
            {
                options.Cookie.Name = "tollgate_session";
                options.Cookie.HttpOnly = true;
                // Strict keeps the session cookie off cross-site requests: the admin API's CSRF defence.
                options.Cookie.SameSite = SameSiteMode.Strict;
                options.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
                options.ExpireTimeSpan = TimeSpan.FromHours(8);
                options.SlidingExpiration = true;
                options.LoginPath = "/login";
                options.AccessDeniedPath = "/login";
                // JSON routes answer 401/403 problem+json; pages redirect to the login page.
                options.Events.OnRedirectToLogin = context => IsApi(context.Request)
                    ? WriteProblemAsync(context.HttpContext, StatusCodes.Status401Unauthorized, "Unauthorized", "Log in first: POST /api/auth/login.")
                    : Redirect(context);
                options.Events.OnRedirectToAccessDenied = context => IsApi(context.Request)
                    ? WriteProblemAsync(context.HttpContext, StatusCodes.Status403Forbidden, "Forbidden", "This needs a super admin.")
                    : Redirect(context);
            });
        services.AddAuthorizationBuilder()
            .AddPolicy(AdminPolicies.Admin, p => p.RequireAuthenticatedUser().RequireRole(nameof(AdminRole.SuperAdmin), nameof(AdminRole.TenantAdmin)))
            .AddPolicy(AdminPolicies.SuperAdmin, p => p.RequireAuthenticatedUser().RequireRole(nameof(AdminRole.SuperAdmin)));
        return services;
    }

    /// <summary>Maps <c>/api/auth</c>, <c>/api/dashboard-data</c> and <c>/api/admin/*</c>.</summary>
    public static IEndpointRouteBuilder MapAdminApi(this IEndpointRouteBuilder routes)
    {
        AuthApi.Map(routes);
        var admin = routes.MapGroup("/api/admin").RequireAuthorization(AdminPolicies.Admin);
        DashboardApi.Map(routes, admin);
        PlansApi.Map(admin);
        TenantsApi.Map(admin);
        SetupApi.Map(admin);
        UsageApi.Map(admin);
        RoutesApi.Map(admin);
        return routes;
    }

    private static bool IsApi(HttpRequest request) => request.Path.StartsWithSegments("/api", StringComparison.OrdinalIgnoreCase);

    private static Task Redirect(Microsoft.AspNetCore.Authentication.RedirectContext<CookieAuthenticationOptions> context)
    {
        context.Response.Redirect(context.RedirectUri);
        return Task.CompletedTask;
    }

    private static Task WriteProblemAsync(HttpContext context, int status, string title, string detail) =>
        TypedResults.Problem(new ProblemDetails { Status = status, Title = title, Detail = detail }).ExecuteAsync(context);
}
