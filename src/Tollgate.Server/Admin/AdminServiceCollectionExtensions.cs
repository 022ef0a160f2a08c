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
        services.AddOptions<AdminSessionOptions>().BindConfiguration(AdminSessionOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<LoginThrottleOptions>().BindConfiguration(LoginThrottleOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<DemoData>();
        services.AddSingleton<LiveBoard>();
        services.AddSingleton<IStartupSeeder, AdminSeeder>();
        services.AddSingleton<AdminSessionStore>();
        services.AddSingleton<LoginThrottle>();
        services.AddScoped<AdminAccounts>();
        services.AddScoped<AuditQuery>();
        services.AddScoped<UsageQueries>();
        services.AddScoped<StatementQueries>();
        services.AddScoped<PlanService>();
        services.AddScoped<TenantService>();
        services.AddScoped<KeyService>();
        services.AddScoped<RouteService>();
        services.AddSingleton<Microsoft.AspNetCore.Authorization.IAuthorizationHandler, ReadOnlyViewerRequirement>();
        services.AddOptions<CookieAuthenticationOptions>(CookieAuthenticationDefaults.AuthenticationScheme)
            .Configure<AdminSessionStore, Microsoft.Extensions.Options.IOptions<AdminSessionOptions>>((options, store, session) =>
            {
                // The cookie holds only a session key; the session itself, and the decision whether it still
                // stands (idle timeout, logout, password or role change, deletion), is the store's.
                options.SessionStore = store;
                options.ExpireTimeSpan = session.Value.AbsoluteLifetime;
            });

        services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme)
            .AddCookie(options =>
            {
                options.Cookie.Name = "tollgate_session";
                options.Cookie.HttpOnly = true;
                // Strict keeps the session cookie off cross-site requests; the CrossSiteRequestGuard covers the
                // same-site ones from another origin (another port of the same host).
                options.Cookie.SameSite = SameSiteMode.Strict;
                // Secure whenever the request is HTTPS, also behind a TLS proxy when ASPNETCORE_FORWARDEDHEADERS_ENABLED is true.
                options.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
                // The idle timeout is the session store's: the cookie itself never slides.
                options.SlidingExpiration = false;
                options.LoginPath = "/login";
                options.AccessDeniedPath = "/login";
                // JSON routes answer 401/403 problem+json; pages redirect to the login page.
                options.Events.OnRedirectToLogin = context => IsApi(context.Request)
                    ? WriteProblemAsync(context.HttpContext, StatusCodes.Status401Unauthorized, "Unauthorized", "Log in first: POST /api/auth/login.")
                    : Redirect(context);
                options.Events.OnRedirectToAccessDenied = context => IsApi(context.Request)
                    ? WriteProblemAsync(context.HttpContext, StatusCodes.Status403Forbidden, "Forbidden", "Your role may not do this.")
                    : Redirect(context);
            });
        services.AddAuthorizationBuilder()
            .AddPolicy(AdminPolicies.Admin, p => p.RequireAuthenticatedUser()
                .RequireRole(nameof(AdminRole.SuperAdmin), nameof(AdminRole.TenantAdmin), nameof(AdminRole.Viewer))
                .AddRequirements(new ReadOnlyViewerRequirement()))
            .AddPolicy(AdminPolicies.SuperAdmin, p => p.RequireAuthenticatedUser().RequireRole(nameof(AdminRole.SuperAdmin)))
            .AddPolicy(AdminPolicies.SignedIn, p => p.RequireAuthenticatedUser()
                .RequireRole(nameof(AdminRole.SuperAdmin), nameof(AdminRole.TenantAdmin), nameof(AdminRole.Viewer)));
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
        StatementsApi.Map(admin);
        AdminsApi.Map(admin);
        AuditApi.Map(admin);
        RoutesApi.Map(admin);
        return routes;
    }

    /// <summary>
    /// The admin side's request pipeline: HSTS on HTTPS answers (outside Development), the cross-site request guard
    /// and <c>no-store</c> on admin JSON, then cookie authentication and authorization.
    /// </summary>
    public static IApplicationBuilder UseTollgateAdmin(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        if (!app.ApplicationServices.GetRequiredService<IWebHostEnvironment>().IsDevelopment())
        {
            app.UseHsts();
        }

        return app.UseCrossSiteRequestGuard().UseAuthentication().UseAuthorization();
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
