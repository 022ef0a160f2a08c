namespace Tollgate.Metering;

/// <summary>
/// Endpoint metadata that makes an endpoint join the metering pipeline. Put there by
/// <see cref="Microsoft.AspNetCore.Builder.TollgateEndpointConventionBuilderExtensions"/>.
/// </summary>
/// <param name="Metered">True: authenticated, limited, counted and logged. False: authenticated only.</param>
public sealed record MeteringMetadata(bool Metered)
{
    /// <summary>Units an admitted request counts against the quota and the rate (a gateway route's <c>cost</c>); 1 by default.</summary>
    public int Cost { get; init; } = 1;

    /// <summary>
    /// True on gateway routes: the usage event also carries the upstream's share of the latency, which the gateway's
    /// proxy pipeline measures (<see cref="UpstreamTiming"/>).
    /// </summary>
    public bool Proxied { get; init; }

    /// <summary>Authenticated, limited, counted and logged.</summary>
    public static MeteringMetadata Full { get; } = new(true);

    /// <summary>Authenticated by API key only.</summary>
    public static MeteringMetadata KeyOnly { get; } = new(false);
}

/// <summary>
/// Set by the gateway's proxy pipeline on a proxied request: how long the forwarder waited for the upstream, from
/// sending the request to the end of the response. The rest of the request's latency is Tollgate's own.
/// </summary>
public sealed class UpstreamTiming
{
    /// <summary>Microseconds spent in the forwarder.</summary>
    public long Micros { get; set; }
}
