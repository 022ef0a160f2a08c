using System.Security.Cryptography;
using System.Text;
using OtpNet;

namespace Tollgate.Admin;

/// <summary>
/// TOTP (RFC 6238: 30-second steps, 6 digits, SHA-1, as every authenticator app expects) and recovery codes. A code
/// is accepted one step either side of now (RFC 6238's network delay) and only for a step later than the last one
/// accepted, so a code seen by someone else cannot be used again.
/// </summary>
internal static class TwoFactor
{
    /// <summary>Recovery codes made when two-factor sign-in is turned on.</summary>
    public const int RecoveryCodeCount = 10;

    /// <summary>A new random secret (160 bits, RFC 4226's recommendation), Base32 as authenticator apps take it.</summary>
    public static string NewSecret() => Base32Encoding.ToString(KeyGeneration.GenerateRandomKey(20));

    /// <summary>The <c>otpauth://</c> URI an authenticator app reads (usually from a QR code).</summary>
    public static string UriFor(string secret, string username) =>
        new OtpUri(OtpType.Totp, secret, username, "Tollgate").ToString();

    /// <summary>The step of <paramref name="code"/> when it is valid at <paramref name="now"/> and later than <paramref name="lastStep"/>; else null.</summary>
    public static long? Verify(string secret, string code, DateTime now, long? lastStep)
    {
        if (code.Length != 6 || !code.All(char.IsAsciiDigit))
        {
            return null;
        }

        var totp = new Totp(Base32Encoding.ToBytes(secret));
        return totp.VerifyTotp(now, code, out var step, VerificationWindow.RfcSpecifiedNetworkDelay) && (lastStep is null || step > lastStep)
            ? step
            : null;
    }

    /// <summary>New recovery codes (shown once) and the hashes to store.</summary>
    public static (string[] Codes, string Hashes) NewRecoveryCodes()
    {
        var codes = new string[RecoveryCodeCount];
        for (var i = 0; i < codes.Length; i++)
        {
            // 50 bits each, in a form people can type: xxxxx-xxxxx of Base32.
            var text = Base32Encoding.ToString(RandomNumberGenerator.GetBytes(7)).ToLowerInvariant()[..10];
            codes[i] = text[..5] + "-" + text[5..];
        }

        return (codes, string.Join(' ', codes.Select(Hash)));
    }

    /// <summary>The stored hashes without <paramref name="code"/>'s, or null when it is not one of them.</summary>
    public static string? Consume(string? hashes, string code)
    {
        var stored = (hashes ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList();
        return stored.Remove(Hash(code.Trim().ToLowerInvariant())) ? string.Join(' ', stored) : null;
    }

    private static string Hash(string code) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(code)));
}
