using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Tollgate.Usage;

/// <summary>Registers usage recording.</summary>
public static class UsageServiceCollectionExtensions
{
    /// <summary>Adds the queue (as the <see cref="IUsageSink"/>), the live counters and the background writer.</summary>
    public static IServiceCollection AddTollgateUsage(this IServiceCollection services)
    {
        services.AddOptions<UsageOptions>().BindConfiguration(UsageOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<UsageQueue>();
        services.TryAddSingleton<IUsageSink>(sp => sp.GetRequiredService<UsageQueue>());
        services.TryAddSingleton<Limits.IUnsharedAdmissions>(sp => sp.GetRequiredService<UsageQueue>());
        services.TryAddSingleton<LiveUsageTracker>();
        services.TryAddSingleton<ILiveUsageView>(sp => sp.GetRequiredService<LiveUsageTracker>());
        services.AddMetrics();
        services.TryAddSingleton<Operations.TollgateMetrics>();
        services.TryAddSingleton<UsageWriter>();
        services.AddHostedService(sp => sp.GetRequiredService<UsageWriter>());
        return services;
    }
}
