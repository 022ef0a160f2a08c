using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;

namespace Tollgate.Webhooks;

/// <summary>
/// Keeps webhooks off the machine's own and private networks (SSRF) unless <see cref="WebhookOptions.AllowPrivateNetworks"/>:
/// a URL is refused when saved if its host resolves to such an address, and every delivery connects only to an address
/// it checked itself (<see cref="ConnectAsync"/>), so a DNS answer that changes after the check (rebinding) still reaches
/// nothing private.
/// </summary>
internal sealed class NetworkGuard(IOptions<WebhookOptions> options)
{
    private readonly bool _allowPrivate = options.Value.AllowPrivateNetworks;

    /// <summary>Why the URL may not be used, or null when it may.</summary>
    public async Task<string?> ProblemAsync(Uri url, CancellationToken ct)
    {
        if (_allowPrivate)
        {
            return null;
        }

        IPAddress[] addresses;
        try
        {
            addresses = await ResolveAsync(url.IdnHost, ct);
        }
        catch (SocketException)
        {
            return $"The host {url.Host} could not be resolved.";
        }

        return addresses.Length == 0 || addresses.Any(a => !IsPublic(a))
            ? $"The host {url.Host} resolves to a loopback, private or link-local address; webhooks may not reach those unless Tollgate:Webhooks:AllowPrivateNetworks is true."
            : null;
    }

    /// <summary>The <see cref="SocketsHttpHandler.ConnectCallback"/>: connects only to addresses that pass the check.</summary>
    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken ct)
    {
        var endpoint = context.DnsEndPoint;
        var addresses = await ResolveAsync(endpoint.Host, ct);
        if (!_allowPrivate)
        {
            addresses = [.. addresses.Where(IsPublic)];
        }

        if (addresses.Length == 0)
        {
            throw new HttpRequestException(
                $"Refused to connect to {endpoint.Host}: it resolves only to loopback, private or link-local addresses (Tollgate:Webhooks:AllowPrivateNetworks is false).");
        }

        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(addresses, endpoint.Port, ct);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Whether an address is on the public internet: not loopback, private, link-local, shared, multicast or reserved.</summary>
    public static bool IsPublic(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            Span<byte> b = stackalloc byte[4];
            address.TryWriteBytes(b, out _);
            return !(b[0] is 0 or 10 or 127 or >= 224                 // this network, private, loopback, multicast and reserved
                || (b[0] == 100 && b[1] is >= 64 and <= 127)          // shared address space (carrier-grade NAT)
                || (b[0] == 169 && b[1] == 254)                       // link-local (cloud metadata services)
                || (b[0] == 172 && b[1] is >= 16 and <= 31)           // private
                || (b[0] == 192 && b[1] == 168)                       // private
                || (b[0] == 192 && b[1] == 0 && b[2] == 0)            // IETF protocol assignments
                || (b[0] == 198 && b[1] is 18 or 19));                // benchmarking
        }

        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            Span<byte> b = stackalloc byte[16];
            address.TryWriteBytes(b, out _);
            return !(IPAddress.IsLoopback(address) || address.Equals(IPAddress.IPv6None)
                || address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6Multicast
                || (b[0] & 0xFE) == 0xFC);                              // unique local fc00::/7
        }

        return false;
    }

    private static async Task<IPAddress[]> ResolveAsync(string host, CancellationToken ct) =>
        IPAddress.TryParse(host.Trim('[', ']'), out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, ct);
}
