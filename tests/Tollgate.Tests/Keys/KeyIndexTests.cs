using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Tollgate.Data;
using Tollgate.Keys;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Keys;

/// <summary>Finding 9: keys that were never issued are answered from memory, without the database.</summary>
public sealed class KeyIndexTests
{
    [Fact]
    public async Task AFloodOfMadeUpKeys_Is401_WithoutADatabaseLookUpForAnyOfThem()
    {
        await using var app = new TollgateApp(settings: new Dictionary<string, string?> { ["Tollgate:Keys:IndexMissChecksPerSecond"] = "0" });
        var tenant = await app.CreateTenantAsync(1000);
        var lookups = DatabaseLookups(app);
        using var client = app.CreateClient();
        for (var i = 0; i < 200; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/ping");
            request.Headers.Add("X-API-KEY", ApiKeyFormat.Generate());
            Assert.Equal(HttpStatusCode.Unauthorized, (await client.SendAsync(request)).StatusCode);
        }

        Assert.Equal(lookups, DatabaseLookups(app));
        using var real = app.TenantClient(tenant.ApiKey);
        Assert.Equal(HttpStatusCode.OK, (await real.GetAsync("/api/v1/ping")).StatusCode);
    }

    [Fact]
    public async Task MissesBeyondTheBudget_AreAnsweredFromMemory()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var app = new TollgateApp(time: time, settings: new Dictionary<string, string?> { ["Tollgate:Keys:IndexMissChecksPerSecond"] = "10" });
        _ = app.Server;
        var lookups = DatabaseLookups(app);
        using var client = app.CreateClient();
        for (var i = 0; i < 100; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/ping");
            request.Headers.Add("X-API-KEY", ApiKeyFormat.Generate());
            Assert.Equal(HttpStatusCode.Unauthorized, (await client.SendAsync(request)).StatusCode);
        }

        Assert.Equal(lookups + 10, DatabaseLookups(app));
    }

    [Fact]
    public async Task AKeyWrittenStraightIntoTheDatabase_IsFoundOnceTheIndexCatchesUp()
    {
        await using var app = new TollgateApp(settings: new Dictionary<string, string?>
        {
            ["Tollgate:Keys:IndexMissChecksPerSecond"] = "0",
            ["Tollgate:Keys:IndexRefreshInterval"] = "00:00:00.200",
        });
        var tenant = await app.CreateTenantAsync(1000);
        var key = ApiKeyFormat.Generate();
        await using (var scope = app.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<TollgateDbContext>();
            db.ApiKeys.Add(new ApiKey { TenantId = tenant.Id, Name = "by hand", Hash = ApiKeyFormat.HashToBytes(key), Start = ApiKeyFormat.StartOf(key), CreatedAt = DateTime.UtcNow });
            await db.SaveChangesAsync();
        }

        var index = app.Services.GetRequiredService<KeyIndex>();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (index.MightExist(KeyHashOf(key)) is false && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        using var client = app.TenantClient(key);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/ping")).StatusCode);
    }

    [Fact]
    public async Task KeysFromBeforeAStart_AreKnownFromTheFirstRequest()
    {
        await using var first = new TollgateApp(settings: new Dictionary<string, string?> { ["Tollgate:Keys:IndexMissChecksPerSecond"] = "0" });
        var tenant = await first.CreateTenantAsync(1000);
        await using var second = new TollgateApp(first.Database, settings: new Dictionary<string, string?> { ["Tollgate:Keys:IndexMissChecksPerSecond"] = "0" });
        using var client = second.TenantClient(tenant.ApiKey);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/ping")).StatusCode);
    }

    [Fact]
    public async Task ABurstOnAKeyAndTenantMadeOnAnotherInstance_IsReadOnce_AndAdmitted()
    {
        // No Redis: the second instance hears of the new tenant and key only from its periodic catch-ups, set far off.
        var slow = new Dictionary<string, string?>
        {
            ["Tollgate:Keys:IndexMissChecksPerSecond"] = "1",
            ["Tollgate:Keys:IndexRefreshInterval"] = "01:00:00",
            ["Tollgate:Keys:ResyncInterval"] = "01:00:00",
        };
        await using var first = new TollgateApp(settings: slow);
        await using var second = new TollgateApp(first.Database, settings: slow);
        _ = second.Server;
        var tenant = await first.CreateTenantAsync(1000);
        var lookups = DatabaseLookups(second);

        // One index miss a second may be read; the rest of the burst waits for that read rather than being refused,
        // and the key's tenant, unknown here, is read with it (CI: 2 of 75 such requests were answered 401).
        using var client = second.TenantClient(tenant.ApiKey);
        var answers = await Task.WhenAll(Enumerable.Range(0, 40).Select(_ => client.GetAsync("/api/v1/ping")));
        Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a.StatusCode));
        Assert.Equal(lookups + 1, DatabaseLookups(second));
    }

    [Fact]
    public async Task AKeyMadeOnOneInstance_IsKnownOnAnotherThroughTheChangeFeed()
    {
        await using var cluster = await Redis.TwoInstances.StartAsync();
        var tenant = await cluster.A.CreateTenantAsync(1000);
        var index = cluster.B.Services.GetRequiredService<KeyIndex>();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!index.MightExist(KeyHashOf(tenant.ApiKey)) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        // Long before the periodic catch-up (5 s) could have found it.
        Assert.True(index.MightExist(KeyHashOf(tenant.ApiKey)));
        using var client = cluster.B.TenantClient(tenant.ApiKey);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/ping")).StatusCode);
    }

    [Fact]
    public void AMillionKeys_TakeUnder100BytesEach()
    {
        var hashes = new List<KeyHash>(1_000_000);
        Span<byte> bytes = stackalloc byte[32];
        for (var i = 0; i < 1_000_000; i++)
        {
            RandomNumberGenerator.Fill(bytes);
            hashes.Add(KeyHash.FromBytes(bytes));
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        var snapshot = KeyIndex.Build(hashes);
        var perKey = (GC.GetAllocatedBytesForCurrentThread() - before) / (double)hashes.Count;
        Assert.Equal(hashes.Count, snapshot.Count);
        Assert.True(perKey < 100, $"{perKey:0.0} bytes a key");
        Console.WriteLine($"Key index: {perKey:0.0} bytes a key for 1,000,000 keys");
    }

    private static long DatabaseLookups(TollgateApp app) =>
        Assert.IsType<CachedApiKeyStore>(app.Services.GetRequiredService<IApiKeyStore>()).DatabaseLookups;

    private static KeyHash KeyHashOf(string key)
    {
        Assert.True(ApiKeyFormat.TryHash(key, out var hash));
        return hash;
    }
}
