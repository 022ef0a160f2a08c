using System.Buffers.Text;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Tollgate.Keys;

/// <summary>
/// How keys look: <c>tg_</c> followed by 32 base64url characters (24 random bytes, 192 bits). The prefix lets
/// secret scanners and people recognise a Tollgate key; the visible start is the prefix and four more characters.
/// </summary>
public static class ApiKeyFormat
{
    /// <summary>Every key starts with this.</summary>
    public const string Prefix = "tg_";

    /// <summary>Random bytes per key.</summary>
    public const int RandomBytes = 24;

    /// <summary>Length of a whole key.</summary>
    public const int Length = 3 + 32;

    /// <summary>Length of the visible start that is stored and shown.</summary>
    public const int StartLength = 8;

    /// <summary>Makes a new random key.</summary>
    public static string Generate()
    {
        Span<byte> random = stackalloc byte[RandomBytes];
        RandomNumberGenerator.Fill(random);
        return Prefix + Base64Url.EncodeToString(random);
    }

    /// <summary>The visible start of a key.</summary>
    public static string StartOf(string key) => key[..StartLength];

    /// <summary>
    /// Hashes a presented key, or returns false when it cannot be a Tollgate key (so junk, however long, costs
    /// neither a hash nor a database look-up). Allocation-free: the hash is a value type.
    /// </summary>
    public static bool TryHash(ReadOnlySpan<char> key, out KeyHash hash)
    {
        if (key.Length != Length || !key.StartsWith(Prefix, StringComparison.Ordinal))
        {
            hash = default;
            return false;
        }

        Span<byte> ascii = stackalloc byte[Length];
        for (var i = 0; i < key.Length; i++)
        {
            var c = key[i];
            if (i >= Prefix.Length && !char.IsAsciiLetterOrDigit(c) && c != '-' && c != '_')
            {
                hash = default;
                return false;
            }

            ascii[i] = (byte)c;
        }

        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(ascii, digest);
        hash = MemoryMarshal.Read<KeyHash>(digest);
        return true;
    }

    /// <summary>SHA-256 of a whole key, as stored in <c>api_keys.hash</c>.</summary>
    public static byte[] HashToBytes(string key)
    {
        if (!TryHash(key, out var hash))
        {
            throw new ArgumentException("Not a Tollgate API key.", nameof(key));
        }

        return hash.ToArray();
    }
}
