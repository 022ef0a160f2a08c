using System.Runtime.InteropServices;

namespace Tollgate;

/// <summary>A SHA-256 digest as a value, so the key cache can look it up without allocating.</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct KeyHash(ulong A, ulong B, ulong C, ulong D)
{
    /// <summary>The 32 bytes of the digest.</summary>
    public byte[] ToArray()
    {
        var bytes = new byte[32];
        MemoryMarshal.Write(bytes, in this);
        return bytes;
    }

    /// <summary>Reads a digest from 32 bytes.</summary>
    public static KeyHash FromBytes(ReadOnlySpan<byte> bytes) => MemoryMarshal.Read<KeyHash>(bytes);
}
