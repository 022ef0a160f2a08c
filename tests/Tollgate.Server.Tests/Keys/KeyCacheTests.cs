using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Tollgate.Keys;
using Tollgate.Testing;

namespace Tollgate.Server.Tests.Keys;

public sealed class KeyCacheTests
{
    [Fact]
    public async Task Cache_StaysWithinItsCapacity_AndEvictedKeysStillWork()
    {
        await using var app = new TollgateApp(settings: new Dictionary<string, string?> { ["Tollgate:Keys:CacheCapacity"] = "100" });
        var tenant = await app.CreateTenantAsync(1_000_000);
        using var client = app.TenantClient(tenant.ApiKey);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/ping")).StatusCode);

        var store = (CachedApiKeyStore)app.Services.GetRequiredService<IApiKeyStore>();
        for (var i = 0; i < 250; i++)
        {
            Assert.Equal(KeyLookupResult.Unknown, (await store.FindAsync(ApiKeyFormat.Generate())).Result);
            Assert.True(store.Count <= 100, $"{store.Count} entries");
        }

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/ping")).StatusCode);
    }

    [Fact]
    public async Task ExpiredKey_Is401()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var app = new TollgateApp(time: time);
        var tenant = await app.CreateTenantAsync(100);
        using var admin = await app.AdminClientAsync();
        var created = await (await admin.PostAsync($"/api/admin/tenants/{tenant.Id}/keys",
            Json.Raw($"{{\"name\":\"short\",\"expiresAt\":\"{time.GetUtcNow().UtcDateTime.AddHours(1):O}\"}}"))).ReadJsonAsync();
        using var client = app.TenantClient(created.GetProperty("key").GetString()!);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/ping")).StatusCode);
        time.Advance(TimeSpan.FromHours(1));
        var problem = await (await client.GetAsync("/api/v1/ping")).ProblemAsync(401);
        Assert.Contains("expired", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }
}
