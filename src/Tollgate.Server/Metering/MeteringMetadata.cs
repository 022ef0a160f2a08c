namespace Tollgate.Metering;

/// <summary>
/// Endpoint metadata that makes an endpoint join the metering pipeline. Put there by
/// <see cref="MeteringEndpointConventionBuilderExtensions"/>.
/// </summary>
/// <param name="Metered">True: authenticated, limited, counted and logged. False: authenticated only.</param>
public sealed record MeteringMetadata(bool Metered)
{
    /// <summary>Authenticated, limited, counted and logged.</summary>
    public static MeteringMetadata Full { get; } = new(true);

    /// <summary>Authenticated by API key only.</summary>
    public static MeteringMetadata KeyOnly { get; } = new(false);
}

/// <summary>Lets any endpoint or route group join the pipeline.</summary>
public static class MeteringEndpointConventionBuilderExtensions
{
    /// <summary>The endpoints need an API key and are limited, counted and logged.</summary>
    public static TBuilder RequireMetering<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(MeteringMetadata.Full);

    /// <summary>The endpoints need an API key but are never limited nor counted.</summary>
    public static TBuilder RequireApiKeyOnly<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(MeteringMetadata.KeyOnly);
}
