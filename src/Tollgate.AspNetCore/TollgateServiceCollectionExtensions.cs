using Microsoft.Extensions.Options;
using Tollgate;
using Tollgate.Changes;
using Tollgate.Data;
using Tollgate.Keys;
using Tollgate.Limits;
using Tollgate.Metering;
using Tollgate.Usage;

// Where ASP.NET Core puts its own AddXxx methods, so that the three lines of CONTRACT §6 need no using.
namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds Tollgate's engine to any ASP.NET Core app.</summary>
public static class TollgateServiceCollectionExtensions
{
    /// <summary>The package that shares limits between processes.</summary>
    public const string RedisPackage = "Tollgate.Redis";

    /// <summary>
    /// Adds API keys, exact limits and usage recording, configured by the same keys as the Tollgate server
    /// (<c>Tollgate:Database:Provider</c> and <c>ConnectionStrings:Tollgate</c>, <c>Tollgate:Redis</c>,
    /// <c>Tollgate:Usage</c>, …). The storage provider and Redis come from their own packages; when the configuration
    /// names one the app does not reference, the app fails at start with that package's name.
    /// </summary>
    /// <param name="services">The app's services.</param>
    /// <param name="configuration">The app's configuration.</param>
    /// <param name="configure">Sets what configuration cannot: <see cref="MeteringOptions.OnRejected"/>, <see cref="MeteringOptions.EndpointName"/>.</param>
    public static IServiceCollection AddTollgate(
        this IServiceCollection services, IConfiguration configuration, Action<MeteringOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<TelemetryOptions>().BindConfiguration(TelemetryOptions.Section);
        var metering = services.AddOptions<MeteringOptions>().BindConfiguration(MeteringOptions.Section)
            .Validate(o => !string.IsNullOrWhiteSpace(o.ApiKeyHeader) && o.ApiKeyHeader.All(c => c > ' ' && c < 127 && c != ':'),
                "Tollgate:Metering:ApiKeyHeader must be a header name.")
            .ValidateOnStart();
        if (configure is not null)
        {
            metering.Configure(configure);
        }

        services.AddTollgateData(configuration);
        services.AddTollgateKeys();
        services.AddTollgateLimits();
        services.AddTollgateUsage();
        services.AddTollgateChanges();

        var options = configuration.GetSection(TollgateOptions.Section).Get<TollgateOptions>() ?? new TollgateOptions();
        if (!string.IsNullOrWhiteSpace(options.Redis))
        {
            var redis = TollgatePackages.Load<ITollgateExtension>(RedisPackage, "Tollgate.Redis.RedisExtension")
                ?? throw new OptionsValidationException(
                    TollgateOptions.Section,
                    typeof(TollgateOptions),
                    [$"Tollgate:Redis is set, but the app does not reference the {RedisPackage} package; add it (dotnet add package {RedisPackage})."]);
            redis.AddTo(services, configuration);
        }

        return services;
    }
}
