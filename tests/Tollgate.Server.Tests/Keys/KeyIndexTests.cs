using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Tollgate.Data;
using Tollgate.Keys;
using Tollgate.Testing;

namespace Tollgate.Server.Tests.Keys;

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
        var refused = answers.Where(a => a.StatusCode != HttpStatusCode.OK).Select(a => a.Content.ReadAsStringAsync().Result).ToList();
        Assert.True(refused.Count == 0, string.Join("\n", refused));
        Assert.Equal(lookups + 1, DatabaseLookups(second));
    }

    [Fact]
    public async Task AKeyMadeOnOneInstance_IsKnownOnAnotherThroughTheChangeFeed()
    {
        await using var cluster = await TwoInstances.StartAsync();
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
        var keys = new List<(KeyHash, KeyRecord)>(1_000_000);
        Span<byte> bytes = stackalloc byte[32];
        for (var i = 0; i < 1_000_000; i++)
        {
            RandomNumberGenerator.Fill(bytes);
            keys.Add((KeyHash.FromBytes(bytes), new KeyRecord(i + 1, i % 1000 + 1, i % 3 == 0 ? DateTime.UtcNow.AddDays(30) : null, null)));
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        var table = KeyIndex.Build(keys);
        var perKey = (GC.GetAllocatedBytesForCurrentThread() - before) / (double)keys.Count;
        Assert.Equal(keys.Count, table.Count);
        Assert.True(perKey < 100, $"{perKey:0.0} bytes a key");
        Console.WriteLine($"Key index: {perKey:0.0} bytes a key for 1,000,000 keys");
    }

    [Fact]
    public async Task KeysBeyondTheCache_AreDecidedFromTheIndex_WithoutTheDatabase()
    {
        await using var app = new TollgateApp(settings: new Dictionary<string, string?> { ["Tollgate:Keys:CacheCapacity"] = "100" });
        var tenant = await app.CreateTenantAsync(1_000_000);
        var keys = await MoreKeysAsync(app, tenant.Id, 150);
        var store = Assert.IsType<CachedApiKeyStore>(app.Services.GetRequiredService<IApiKeyStore>());
        var lookups = store.DatabaseLookups;
        for (var round = 0; round < 2; round++)
        {
            foreach (var key in keys)
            {
                Assert.Equal(KeyLookupResult.Found, (await store.FindAsync(key)).Result);
            }
        }

        Assert.Equal(lookups, store.DatabaseLookups);
        Assert.True(store.Count <= 100, $"{store.Count} cache entries");

        // Revoked through the admin API: the change reaches a key the cache does not hold.
        using var admin = await app.AdminClientAsync();
        var last = await admin.GetFromJsonAsync<List<KeyIdDto>>($"/api/admin/tenants/{tenant.Id}/keys");
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/admin/tenants/{tenant.Id}/keys/{last![^1].Id}")).StatusCode);
        Assert.Equal(KeyLookupResult.Revoked, (await store.FindAsync(keys[^1])).Result);
    }

    [Fact]
    public async Task ARevocationOnAnInstanceWithoutAFeed_ReachesKeysOutsideTheOthersCache()
    {
        // No Redis: B hears of the revocation only from its resync, which reads the audit log for what changed.
        var settings = new Dictionary<string, string?> { ["Tollgate:Keys:CacheCapacity"] = "100", ["Tollgate:Keys:ResyncInterval"] = "00:00:01" };
        await using var a = new TollgateApp(settings: settings);
        var tenant = await a.CreateTenantAsync(1_000_000);
        var fillers = await MoreKeysAsync(a, tenant.Id, 100);
        await using var b = new TollgateApp(a.Database, settings: settings);
        var onB = Assert.IsType<CachedApiKeyStore>(b.Services.GetRequiredService<IApiKeyStore>());
        foreach (var key in fillers)
        {
            Assert.Equal(KeyLookupResult.Found, (await onB.FindAsync(key)).Result);
        }

        Assert.Equal(KeyLookupResult.Found, (await onB.FindAsync(tenant.ApiKey)).Result);
        Assert.Equal(100, onB.Count); // the tenant's own key is decided from the index on every use

        using var admin = await a.AdminClientAsync();
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/admin/tenants/{tenant.Id}/keys/{tenant.KeyId}")).StatusCode);
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while ((await onB.FindAsync(tenant.ApiKey)).Result != KeyLookupResult.Revoked)
        {
            Assert.True(DateTime.UtcNow < deadline, "B still admits the revoked key after 15 s");
            await Task.Delay(50);
        }
    }

    private static async Task<List<string>> MoreKeysAsync(TollgateApp app, long tenantId, int count)
    {
        using var admin = await app.AdminClientAsync();
        var keys = new List<string>();
        for (var i = 0; i < count; i++)
        {
            var created = await (await admin.PostAsJsonAsync($"/api/admin/tenants/{tenantId}/keys", new { name = $"k{i}" })).ReadJsonAsync();
            keys.Add(created.GetProperty("key").GetString()!);
        }

        return keys;
    }

    private sealed record KeyIdDto(long Id);

    private static long DatabaseLookups(TollgateApp app) =>
        Assert.IsType<CachedApiKeyStore>(app.Services.GetRequiredService<IApiKeyStore>()).DatabaseLookups;

    private static KeyHash KeyHashOf(string key)
    {
        Assert.True(ApiKeyFormat.TryHash(key, out var hash));
        return hash;
    }
}
