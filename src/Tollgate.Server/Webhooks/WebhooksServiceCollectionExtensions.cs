using Tollgate.Admin;


namespace Tollgate.Webhooks;

/// <summary>Registers and maps quota alert webhooks.</summary>
public static class WebhooksServiceCollectionExtensions
{
    /// <summary>Adds the webhook options, the delivery dispatcher (a hosted service on every instance) and the API's services.</summary>
    public static IServiceCollection AddTollgateWebhooks(this IServiceCollection services)
    {
        services.AddOptions<WebhookOptions>().BindConfiguration(WebhookOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<NetworkGuard>();
        services.AddSingleton<WebhookSender>();
        services.AddSingleton<WebhookMetrics>();
        services.AddSingleton<WebhookDispatcher>();
        services.AddHostedService(sp => sp.GetRequiredService<WebhookDispatcher>());
        services.AddScoped<WebhookRegistry>();
        return services;
    }

    /// <summary>Maps <c>/api/admin/webhooks</c>, <c>/api/admin/alerts</c> and <c>/api/admin/tenants/{id}/alert-thresholds</c>.</summary>
    public static IEndpointRouteBuilder MapWebhooksApi(this IEndpointRouteBuilder routes)
    {
        if (routes.ServiceProvider.GetService<WebhookDispatcher>() is null)
        {
            throw new InvalidOperationException("MapWebhooksApi needs AddTollgateWebhooks() in the services.");
        }

        WebhooksApi.Map(routes.MapGroup("/api/admin").RequireAuthorization(AdminPolicies.Admin));
        return routes;
    }
}
