using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Tollgate.Keys;

/// <summary>Registers the key store and the tenant directory.</summary>
public static class KeysServiceCollectionExtensions
{
    /// <summary>Adds the cached <see cref="IApiKeyStore"/> (replaceable: registered with TryAdd).</summary>
    public static IServiceCollection AddTollgateKeys(this IServiceCollection services)
    {
        services.AddOptions<ApiKeyOptions>().BindConfiguration(ApiKeyOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<TenantDirectory>();
        services.TryAddSingleton<KeyIndex>();
        services.AddHostedService<KeyIndexRefresher>();
        services.AddHostedService<KeyResync>();
        services.TryAddSingleton<IApiKeyStore, CachedApiKeyStore>();
        services.AddSingleton<Data.IStartupSeeder, TenantDirectoryLoader>();
        services.AddSingleton<Data.IStartupSeeder, KeyIndexLoader>();
        return services;
    }

    private sealed class KeyIndexLoader(KeyIndex index) : Data.IStartupSeeder
    {
        public Task SeedAsync(CancellationToken cancellationToken) => index.LoadAsync(cancellationToken);
    }

    private sealed class TenantDirectoryLoader(TenantDirectory directory) : Data.IStartupSeeder
    {
        public Task SeedAsync(CancellationToken cancellationToken) => directory.ReloadAsync(cancellationToken);
    }
}
