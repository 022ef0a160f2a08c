using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Tollgate.Limits;

/// <summary>Registers the limit store.</summary>
public static class LimitsServiceCollectionExtensions
{
    /// <summary>
    /// Adds the in-process <see cref="ILimitStore"/>, registered with TryAdd so a deployment (or a test) can put another
    /// store in first. Its counts are seeded by the <see cref="IQuotaSeedSource"/> that AddTollgateUsage adds.
    /// </summary>
    public static IServiceCollection AddTollgateLimits(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ILimitStore, InProcessLimitStore>();
        return services;
    }
}
