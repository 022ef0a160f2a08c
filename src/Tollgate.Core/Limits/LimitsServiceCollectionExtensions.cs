using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Tollgate.Limits;

/// <summary>Registers the limit store.</summary>
public static class LimitsServiceCollectionExtensions
{
    /// <summary>
    /// Adds the in-process <see cref="ILimitStore"/> and its database seed source. Registered with TryAdd so a
    /// deployment (or a test) can put another store in first.
    /// </summary>
    public static IServiceCollection AddTollgateLimits(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<QuotaCounterSeedSource>();
        services.TryAddSingleton<IQuotaSeedSource>(sp => sp.GetRequiredService<QuotaCounterSeedSource>());
        services.TryAddSingleton<ILimitStore, InProcessLimitStore>();
        services.AddSingleton<Data.IStartupSeeder, QuotaPreloadSeeder>();
        return services;
    }

    /// <summary>Runs the preload after the migrations, before the server listens.</summary>
    private sealed class QuotaPreloadSeeder(QuotaCounterSeedSource source) : Data.IStartupSeeder
    {
        public Task SeedAsync(CancellationToken cancellationToken) => source.PreloadAsync(cancellationToken);
    }
}
