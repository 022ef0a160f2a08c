using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using StackExchange.Redis;
using Tollgate.Changes;
using Tollgate.Keys;
using Tollgate.Limits;
using Tollgate.Usage;

namespace Tollgate.Redis;

/// <summary>The entry point <c>AddTollgate</c> finds when <c>Tollgate:Redis</c> is set.</summary>
public sealed class RedisExtension : ITollgateExtension
{
    /// <inheritdoc />
    public void AddTo(IServiceCollection services, IConfiguration configuration) => services.AddTollgateRedis(configuration);
}

/// <summary>Shares limits, admin changes, live counts and sessions between instances through Redis.</summary>
public static class RedisServiceCollectionExtensions
{
    /// <summary>
    /// When <c>Tollgate:Redis</c> is set, replaces the in-process limit store, change feed and live view with
    /// their Redis versions; otherwise does nothing. Call after AddTollgateKeys, AddTollgateLimits and AddTollgateUsage.
    /// </summary>
    public static IServiceCollection AddTollgateRedis(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<TollgateOptions>().BindConfiguration(TollgateOptions.Section).ValidateOnStart();
        var options = configuration.GetSection(TollgateOptions.Section).Get<TollgateOptions>() ?? new TollgateOptions();
        if (string.IsNullOrWhiteSpace(options.Redis))
        {
            return services;
        }

        var redisOptions = ConfigurationOptions.Parse(options.Redis);
        // Start even when Redis is down (Open mode serves on), and keep reconnecting in the background.
        redisOptions.AbortOnConnectFail = false;
        redisOptions.ClientName ??= "tollgate";
        var multiplexer = ConnectionMultiplexer.Connect(redisOptions);
        services.AddSingleton<IConnectionMultiplexer>(multiplexer);

        services.AddSingleton<InProcessLimitStore>();
        services.TryAddSingleton<LimitMetrics>();
        services.AddSingleton<RedisLimitStore>();
        services.Replace(ServiceDescriptor.Singleton<ILimitStore>(sp => sp.GetRequiredService<RedisLimitStore>()));

        services.AddSingleton<LocalChangeFeed>();
        services.AddSingleton<RedisChangeFeed>();
        services.Replace(ServiceDescriptor.Singleton<IChangeFeed>(sp => sp.GetRequiredService<RedisChangeFeed>()));
        services.AddHostedService(sp => sp.GetRequiredService<RedisChangeFeed>());

        services.AddSingleton<RedisLiveUsage>();
        services.Replace(ServiceDescriptor.Singleton<ILiveUsageView>(sp => sp.GetRequiredService<RedisLiveUsage>()));
        services.AddHostedService(sp => sp.GetRequiredService<RedisLiveUsage>());

        // A session cookie made by one instance must open on every other.
        services.AddDataProtection().SetApplicationName("Tollgate").PersistKeysToStackExchangeRedis(multiplexer, "tg:dataprotection");

        services.AddHealthChecks().Add(new HealthCheckRegistration(
            "redis",
            sp => new RedisHealthCheck(sp.GetRequiredService<IConnectionMultiplexer>(), sp.GetRequiredService<RedisLimitStore>(), options.RedisFailureMode),
            failureStatus: null,
            tags: ["ready"]));
        return services;
    }

    /// <summary>
    /// Unhealthy (503 on /readyz) when Redis is away in Closed mode; Degraded (200, body "Degraded") in Open mode,
    /// where the instance still serves on per-instance limits.
    /// </summary>
    private sealed class RedisHealthCheck(IConnectionMultiplexer redis, RedisLimitStore limits, RedisFailureMode mode) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            try
            {
                if (redis.IsConnected)
                {
                    await redis.GetDatabase().PingAsync();
                    return limits.Degraded
                        ? HealthCheckResult.Degraded("Redis answers again; limits return to shared with the next request.")
                        : HealthCheckResult.Healthy();
                }
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                return Failed(ex);
            }

            return Failed(null);
        }

        private HealthCheckResult Failed(Exception? ex) => mode == RedisFailureMode.Open
            ? HealthCheckResult.Degraded("Redis is unreachable: limits are per instance until it is back.", ex)
            : HealthCheckResult.Unhealthy("Redis is unreachable: metered requests are refused with 503.", ex);
    }
}
