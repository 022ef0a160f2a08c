using Microsoft.Extensions.DependencyInjection;
using System.Diagnostics;
using System.Net;
using Tollgate.Testing;

namespace Tollgate.Server.Tests.Keys;

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

    [Fact]
    public async Task APlanChangeOnOneInstance_AppliesOnTheOther_WithinTheResyncInterval()
    {
        // Read from the audit log's plan.update, not from a reload of every tenant (that comes every 30th pass only).
        await using var a = new TollgateApp(settings: Resync);
        var tenant = await a.CreateTenantAsync(1000);
        await using var b = new TollgateApp(a.Database, settings: Resync);
        using var onB = b.TenantClient(tenant.ApiKey);
        Assert.Equal(HttpStatusCode.OK, (await onB.GetAsync("/api/v1/ping")).StatusCode);

        using var admin = await a.AdminClientAsync();
        (await admin.PatchJsonAsync($"/api/admin/plans/{tenant.PlanId}", new { quota = new { limit = 1, period = "Month" } })).EnsureSuccessStatusCode();

        var took = await UntilAsync(onB, HttpStatusCode.TooManyRequests);
        Assert.True(took < TimeSpan.FromSeconds(5), $"B applied the new quota after {took.TotalSeconds:F1} s");
    }

    [Fact]
    public async Task ATenantMadeOnOneInstance_IsServedByTheOther_WithinTheResyncInterval()
    {
        await using var a = new TollgateApp(settings: Resync);
        await using var b = new TollgateApp(a.Database, settings: Resync);
        _ = b.Server;
        var tenant = await a.CreateTenantAsync(1000);
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (!b.Services.GetRequiredService<Tollgate.Keys.TenantDirectory>().TryGet(tenant.Id, out _))
        {
            Assert.True(DateTime.UtcNow < deadline, "B's directory still lacks the tenant after 5 s");
            await Task.Delay(50);
        }
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
