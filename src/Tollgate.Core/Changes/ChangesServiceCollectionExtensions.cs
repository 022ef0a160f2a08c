using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Tollgate.Changes;

/// <summary>Registers the change feed.</summary>
public static class ChangesServiceCollectionExtensions
{
    /// <summary>Adds the in-process <see cref="IChangeFeed"/> (replaceable: Tollgate.Redis puts its own in).</summary>
    public static IServiceCollection AddTollgateChanges(this IServiceCollection services)
    {
        services.TryAddSingleton<IChangeFeed, LocalChangeFeed>();
        return services;
    }
}
