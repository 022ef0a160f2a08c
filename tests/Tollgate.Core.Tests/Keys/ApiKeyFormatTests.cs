using System.Security.Cryptography;
using System.Text;
using Tollgate.Keys;

namespace Tollgate.Core.Tests.Keys;

public sealed class ApiKeyFormatTests
{
    [Fact]
    public void Generate_MakesPrefixedKeysOf192RandomBits()
    {
        var keys = Enumerable.Range(0, 1000).Select(_ => ApiKeyFormat.Generate()).ToList();
        Assert.All(keys, k =>
        {
            Assert.StartsWith("tg_", k, StringComparison.Ordinal);
            Assert.Equal(35, k.Length);
            Assert.True(ApiKeyFormat.TryHash(k, out _));
        });
        Assert.Equal(1000, keys.Distinct().Count());
    }

    [Fact]
    public void Hash_IsTheSha256OfTheWholeKey()
    {
        var key = ApiKeyFormat.Generate();
        Assert.Equal(SHA256.HashData(Encoding.ASCII.GetBytes(key)), ApiKeyFormat.HashToBytes(key));
        Assert.True(ApiKeyFormat.TryHash(key, out var hash));
        Assert.Equal(ApiKeyFormat.HashToBytes(key), hash.ToArray());
        Assert.Equal(hash, KeyHash.FromBytes(hash.ToArray()));
    }

    [Theory]
    [InlineData("")]
    [InlineData("tg_")]
    [InlineData("sk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("tg_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("tg_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("tg_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA A")]
    [InlineData("tg_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAé")]
    [InlineData("tg_AAAAAAAAAAAAAAAAAAAAAAAAAAAAA/+A")]
    public void TryHash_RefusesWhatCannotBeAKey(string presented) => Assert.False(ApiKeyFormat.TryHash(presented, out _));

    [Fact]
    public void Start_IsThePrefixAndFiveCharacters()
    {
        var key = ApiKeyFormat.Generate();
        Assert.Equal(key[..8], ApiKeyFormat.StartOf(key));
    }
}
