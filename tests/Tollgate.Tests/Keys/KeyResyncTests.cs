using System.Diagnostics;
using System.Net;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Keys;

/// <summary>
/// Two instances on one database and no Redis between them: what an admin changes on one (a revocation, a suspension)
/// reaches the other through the periodic resync (<c>Tollgate:Keys:ResyncInterval</c>), not never.
/// </summary>
public sealed class KeyResyncTests
{
    private static readonly Dictionary<string, string?> Resync = new() { ["Tollgate:Keys:ResyncInterval"] = "00:00:01" };

    [Fact]
    public async Task ARevocationOnOneInstance_IsRefusedByTheOther_WithinTheResyncInterval()
    {
        await using var a = new TollgateApp(settings: Resync);
        var tenant = await a.CreateTenantAsync(1000);
        await using var b = new TollgateApp(a.Database, settings: Resync);
        using var onB = b.TenantClient(tenant.ApiKey);
        Assert.Equal(HttpStatusCode.OK, (await onB.GetAsync("/api/v1/ping")).StatusCode); // cached on B

        using var admin = await a.AdminClientAsync();
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/admin/tenants/{tenant.Id}/keys/{tenant.KeyId}")).StatusCode);

        var took = await UntilAsync(onB, HttpStatusCode.Unauthorized);
        Assert.True(took < TimeSpan.FromSeconds(5), $"B refused the revoked key after {took.TotalSeconds:F1} s");
    }

    [Fact]
    public async Task ASuspensionOnOneInstance_IsRefusedByTheOther_WithinTheResyncInterval()
    {
        await using var a = new TollgateApp(settings: Resync);
        var tenant = await a.CreateTenantAsync(1000);
        await using var b = new TollgateApp(a.Database, settings: Resync);
        using var onB = b.TenantClient(tenant.ApiKey);
        Assert.Equal(HttpStatusCode.OK, (await onB.GetAsync("/api/v1/ping")).StatusCode);

        using var admin = await a.AdminClientAsync();
        (await admin.PatchJsonAsync($"/api/admin/tenants/{tenant.Id}", new { status = "Suspended" })).EnsureSuccessStatusCode();

        var took = await UntilAsync(onB, HttpStatusCode.Forbidden);
        Assert.True(took < TimeSpan.FromSeconds(5), $"B refused the suspended tenant after {took.TotalSeconds:F1} s");
    }

    private static async Task<TimeSpan> UntilAsync(HttpClient client, HttpStatusCode expected)
    {
        var watch = Stopwatch.StartNew();
        while ((await client.GetAsync("/api/v1/ping")).StatusCode != expected)
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(15), $"still not {expected} after 15 s");
            await Task.Delay(50);
        }

        return watch.Elapsed;
    }
}
