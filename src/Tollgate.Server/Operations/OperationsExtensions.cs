using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Tollgate.Data;

namespace Tollgate.Operations;

/// <summary>Health endpoints and the error format of every JSON route.</summary>
public static class OperationsExtensions
{
    private const string ReadyTag = "ready";

    /// <summary>Adds ProblemDetails, the health checks and the OpenAPI document.</summary>
    public static IServiceCollection AddTollgateOperations(this IServiceCollection services)
    {
        services.AddProblemDetails(o => o.CustomizeProblemDetails = context =>
        {
            // Minimal APIs answer a body or parameter that does not bind with an empty 400; say what to check.
            if (context.ProblemDetails.Status == StatusCodes.Status400BadRequest && context.ProblemDetails.Detail is null)
            {
                context.ProblemDetails.Detail = "The request could not be read: check the JSON body (types and shape) and the parameters.";
            }
        });
        services.AddHealthChecks().Add(new HealthCheckRegistration(
            "database",
            sp => ActivatorUtilities.CreateInstance<StorageHealthCheck>(sp),
            failureStatus: null,
            tags: [ReadyTag],
            timeout: StorageHealthCheck.Timeout + TimeSpan.FromMilliseconds(100)));
        services.AddOpenApi();
        services.TryAddSingleton<Usage.UsageMetrics>();
        services.ConfigureHttpJsonOptions(o =>
            o.SerializerOptions.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter()));
        return services;
    }

    /// <summary>
    /// Turns unhandled exceptions into <c>application/problem+json</c>; <see cref="UseTollgateStatusCodePages"/> does the
    /// same for empty error answers.
    /// </summary>
    public static IApplicationBuilder UseTollgateErrors(this IApplicationBuilder app)
    {
        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            // Outside the metering middleware (e.g. /api/v1/usage) an unreachable shared store is a 503 too.
            // Two concurrent creates of one name both pass the handler's check; the unique index refuses the second,
            // which is the 409 the check would have given (tenants, plans, users, admins, on every database).
            StatusCodeSelector = ex => ex switch
            {
                Limits.LimitStoreUnavailableException => StatusCodes.Status503ServiceUnavailable,
                _ when UniqueViolation.IsUpdate(ex) => StatusCodes.Status409Conflict,
                _ => StatusCodes.Status500InternalServerError,
            },
        });
        return app;
    }

    /// <summary>
    /// Turns empty error answers (404 of an unknown route, 405, a body that does not bind) into
    /// <c>application/problem+json</c>, except on the gateway's routes (<see cref="EmptyErrorProblemMiddleware"/>). Goes
    /// after <c>UseRouting</c>, which tells them.
    /// </summary>
    public static IApplicationBuilder UseTollgateStatusCodePages(this IApplicationBuilder app) =>
        app.UseMiddleware<EmptyErrorProblemMiddleware>();

    /// <summary>Maps <c>/healthz</c> (the process runs), <c>/readyz</c> (its dependencies answer), <c>/metrics</c> (Prometheus) and the OpenAPI document.</summary>
    public static IEndpointRouteBuilder MapOperations(this IEndpointRouteBuilder routes)
    {
        routes.MapHealthChecks("/healthz", new HealthCheckOptions { Predicate = _ => false });
        routes.MapHealthChecks("/readyz", new HealthCheckOptions { Predicate = c => c.Tags.Contains(ReadyTag) });
        routes.MapOpenApi();
        routes.MapPrometheusScrapingEndpoint("/metrics");
        return routes;
    }
}
