using System.Text.Json;
using Tollgate.Testing;

namespace Tollgate.Server.Tests.Usage;

/// <summary>
/// <c>api_keys.last_used_at</c> follows use to within <c>Tollgate:Usage:LastUsedResolution</c>, written off the request
/// path, and what is gathered when the server stops is written before it exits.
/// </summary>
public sealed class KeyLastUseTests
{
    [Fact]
    public async Task LastUse_IsRecordedOffTheRequestPath_WithinTheResolution()
    {
        await using var app = new TollgateApp(settings: new Dictionary<string, string?> { ["Tollgate:Usage:LastUsedResolution"] = "00:00:01" });
        var first = await app.CreateTenantAsync(10);
        var second = await app.CreateTenantAsync(10);
        foreach (var tenant in new[] { first, second })
        {
            using var client = app.TenantClient(tenant.ApiKey);
            (await client.GetAsync("/api/v1/ping")).EnsureSuccessStatusCode();
        }

        using var admin = await app.AdminClientAsync();
        foreach (var tenant in new[] { first, second })
        {
            var deadline = DateTime.UtcNow.AddSeconds(15);
            JsonElement key;
            do
            {
                await Task.Delay(50);
                key = (await (await admin.GetAsync($"/api/admin/tenants/{tenant.Id}/keys")).ReadJsonAsync())[0];
            }
            while (key.GetProperty("lastUsedAt").ValueKind == JsonValueKind.Null && DateTime.UtcNow < deadline);

            Assert.InRange(key.GetProperty("lastUsedAt").GetDateTime().ToUniversalTime(), DateTime.UtcNow.AddMinutes(-1), DateTime.UtcNow.AddSeconds(1));
        }
    }

    [Fact]
    public async Task LastUsesGatheredAtAStop_AreWrittenBeforeTheServerExits()
    {
        var app = new TollgateApp(settings: new Dictionary<string, string?> { ["Tollgate:Usage:LastUsedResolution"] = "01:00:00" });
        var tenants = new List<TestTenant>();
        await using (app)
        {
            // The first use starts the first write at once; the others wait for the next, an hour later, or the stop.
            for (var i = 0; i < 3; i++)
            {
                tenants.Add(await app.CreateTenantAsync(10));
                using var client = app.TenantClient(tenants[^1].ApiKey);
                (await client.GetAsync("/api/v1/ping")).EnsureSuccessStatusCode();
                await Task.Delay(300);
            }
        }

        foreach (var tenant in tenants)
        {
            Assert.Equal(1, await app.Database.ScalarAsync(
                "SELECT count(*) FROM api_keys WHERE id = @id AND last_used_at IS NOT NULL", ("id", tenant.KeyId)));
        }
    }
}
