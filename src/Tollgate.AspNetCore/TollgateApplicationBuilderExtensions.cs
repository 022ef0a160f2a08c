using Tollgate.Keys;
using Tollgate.Limits;
using Tollgate.Metering;
using Tollgate.Usage;

// Where ASP.NET Core puts its own middleware's extensions, so that the three lines of CONTRACT §6 need no using.
namespace Microsoft.AspNetCore.Builder;

/// <summary>Adds Tollgate's metering to the request pipeline.</summary>
public static class TollgateApplicationBuilderExtensions
{
    /// <summary>
    /// Adds the metering middleware: every endpoint marked with <see cref="TollgateEndpointConventionBuilderExtensions.RequireMetering{TBuilder}"/>
    /// needs an API key and is limited, counted and recorded. Must come after <c>UseRouting</c> (it reads the
    /// endpoint) and needs <c>AddTollgate</c>.
    /// </summary>
    public static IApplicationBuilder UseTollgateMetering(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        if (app.ApplicationServices.GetService<IApiKeyStore>() is null
            || app.ApplicationServices.GetService<ILimitStore>() is null
            || app.ApplicationServices.GetService<IUsageSink>() is null)
        {
            throw new InvalidOperationException("UseTollgateMetering needs builder.Services.AddTollgate(builder.Configuration).");
        }

        return app.UseMiddleware<MeteringMiddleware>();
    }
}

/// <summary>Lets any endpoint or route group join Tollgate's metering.</summary>
public static class TollgateEndpointConventionBuilderExtensions
{
    /// <summary>The endpoints need an API key and are limited, counted and recorded.</summary>
    public static TBuilder RequireMetering<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(MeteringMetadata.Full);

    /// <summary>The endpoints need an API key but are never limited nor counted.</summary>
    public static TBuilder RequireApiKeyOnly<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(MeteringMetadata.KeyOnly);
}
