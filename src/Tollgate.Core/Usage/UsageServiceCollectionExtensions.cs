using Microsoft.Extensions.DependencyInjection.Extensions;
using Tollgate.Limits;

namespace Tollgate.Usage;

/// <summary>Registers usage recording.</summary>
public static class UsageServiceCollectionExtensions
{
    /// <summary>
    /// Adds the queue (as the <see cref="IUsageSink"/>), the live counters, the spool, the background writer and the
    /// limit stores' <see cref="IQuotaSeedSource"/> (the stored counters plus what waits in the spool), and the retention
    /// clean-up (<see cref="RetentionOptions"/>; it needs the storage package's <see cref="IUsageRetentionStore"/>). A seed
    /// source registered before is kept, and also learns to count the spool.
    /// </summary>
    public static IServiceCollection AddTollgateUsage(this IServiceCollection services)
    {
        services.AddOptions<UsageOptions>().BindConfiguration(UsageOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<RetentionOptions>().BindConfiguration(RetentionOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<UsageQueue>();
        services.TryAddSingleton<IUsageSink>(sp => sp.GetRequiredService<UsageQueue>());
        services.TryAddSingleton<Limits.IUnsharedAdmissions>(sp => sp.GetRequiredService<UsageQueue>());
        services.TryAddSingleton<UsageEndpointIds>();
        services.TryAddSingleton<LiveUsageTracker>();
        services.TryAddSingleton<ILiveUsageView>(sp => sp.GetRequiredService<LiveUsageTracker>());
        services.TryAddSingleton<UsageStorageStatus>();
        services.TryAddSingleton<UsageSpool>();
        services.AddSingleton<Data.IStartupSeeder, UsageSpoolLoader>();
        services.TryAddSingleton<QuotaCounterSeedSource>();
        services.TryAddSingleton<IQuotaSeedSource>(sp => sp.GetRequiredService<QuotaCounterSeedSource>());
        services.AddSingleton<Data.IStartupSeeder, QuotaPreloadSeeder>();
        CountSpooledQuota(services);
        services.AddMetrics();
        services.TryAddSingleton<UsageMetrics>();
        services.TryAddSingleton<UsageWriter>();
        services.AddHostedService(sp => sp.GetRequiredService<UsageWriter>());
        services.TryAddSingleton<UsageRetention>();
        services.AddHostedService(sp => sp.GetRequiredService<UsageRetention>());
        return services;
    }

    /// <summary>Wraps the registered <see cref="IQuotaSeedSource"/> so that seeds include the spooled counts.</summary>
    private static void CountSpooledQuota(IServiceCollection services)
    {
        var seeds = services.LastOrDefault(d => d.ServiceType == typeof(IQuotaSeedSource));
        if (seeds is null || seeds.IsKeyedService)
        {
            return;
        }

        services.Remove(seeds);
        services.AddSingleton<IQuotaSeedSource>(sp => new SpooledQuotaSeedSource(
            seeds.ImplementationInstance as IQuotaSeedSource
                ?? seeds.ImplementationFactory?.Invoke(sp) as IQuotaSeedSource
                ?? (IQuotaSeedSource)ActivatorUtilities.CreateInstance(sp, seeds.ImplementationType!),
            sp.GetRequiredService<UsageSpool>(),
            sp.GetRequiredService<TimeProvider>()));
    }

    /// <summary>Loads the current periods' counters after the migrations, before the server listens.</summary>
    private sealed class QuotaPreloadSeeder(QuotaCounterSeedSource source) : Data.IStartupSeeder
    {
        public Task SeedAsync(CancellationToken cancellationToken) => source.PreloadAsync(cancellationToken);
    }
}
