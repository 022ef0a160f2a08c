using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.Time.Testing;
using Tollgate.Testing;

namespace Tollgate.Server.Tests.Admin;

/// <summary>Keys: rotation with a grace period and expiry chosen at creation (CONTRACT §8).</summary>
public sealed class KeyRotationTests
{
    [Fact]
    public async Task Rotation_MakesANewKeyForTheSameTenant_TheOldOneWorksUntilTheGraceEnds_Then401()
    {
        // The test moves the clock an hour on: it must not cross into a new month, whose quota would start again from 0
        // (a fresh-clone run at 23:58 on the last of the month counted 2 of the 4 requests).
        var start = DateTimeOffset.UtcNow;
        var nextMonth = new DateTimeOffset(start.Year, start.Month, 1, 0, 0, 0, TimeSpan.Zero).AddMonths(1);
        var time = new FakeTimeProvider(nextMonth - start < TimeSpan.FromHours(2) ? nextMonth.AddMinutes(1) : start);
        await using var app = new TollgateApp(time: time);
        var tenant = await app.CreateTenantAsync(1000);
        using var old = app.TenantClient(tenant.ApiKey);
        Assert.Equal(HttpStatusCode.OK, (await old.GetAsync("/api/v1/ping")).StatusCode);

        using var admin = await app.AdminClientAsync();
        var rotated = await admin.PostAsJsonAsync($"/api/admin/tenants/{tenant.Id}/keys/{tenant.KeyId}/rotate", new { gracePeriodSeconds = 3600 });
        Assert.Equal(HttpStatusCode.Created, rotated.StatusCode);
        var body = await rotated.ReadJsonAsync();
        using var fresh = app.TenantClient(body.GetProperty("key").GetString()!);
        Assert.NotEqual(tenant.KeyId, body.GetProperty("id").GetInt64());

        Assert.Equal(HttpStatusCode.OK, (await fresh.GetAsync("/api/v1/ping")).StatusCode);
        time.Advance(TimeSpan.FromMinutes(59));
        Assert.Equal(HttpStatusCode.OK, (await old.GetAsync("/api/v1/ping")).StatusCode);
        time.Advance(TimeSpan.FromMinutes(2));
        await (await old.GetAsync("/api/v1/ping")).ProblemAsync(401);
        Assert.Equal(HttpStatusCode.OK, (await fresh.GetAsync("/api/v1/ping")).StatusCode);

        // One tenant, one history: the requests of both keys count against the same quota.
        var usage = await (await fresh.GetAsync("/api/v1/usage")).ReadJsonAsync();
        Assert.Equal(4, usage.GetProperty("used").GetInt64());
        var audit = await (await admin.GetAsync($"/api/admin/audit?action=key.rotate&tenantId={tenant.Id}")).ReadJsonAsync();
        Assert.Equal(1, audit.GetArrayLength());
    }

    [Fact]
    public async Task RotationWithoutGrace_RefusesTheOldKeyAtOnce_EvenWhileItIsCached()
    {
        await using var app = new TollgateApp();
        var tenant = await app.CreateTenantAsync(1000);
        using var old = app.TenantClient(tenant.ApiKey);
        Assert.Equal(HttpStatusCode.OK, (await old.GetAsync("/api/v1/ping")).StatusCode);
        using var admin = await app.AdminClientAsync();
        Assert.Equal(HttpStatusCode.Created, (await admin.PostAsJsonAsync($"/api/admin/tenants/{tenant.Id}/keys/{tenant.KeyId}/rotate", new { gracePeriodSeconds = 0 })).StatusCode);
        await (await old.GetAsync("/api/v1/ping")).ProblemAsync(401);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(2_592_001)]
    public async Task Rotation_WithAGraceOutOfRange_Is400(int grace)
    {
        await using var app = new TollgateApp();
        var tenant = await app.CreateTenantAsync(1000);
        using var admin = await app.AdminClientAsync();
        await (await admin.PostAsJsonAsync($"/api/admin/tenants/{tenant.Id}/keys/{tenant.KeyId}/rotate", new { gracePeriodSeconds = grace })).ProblemAsync(400);
    }

    [Fact]
    public async Task RotatingARevokedKey_Is409()
    {
        await using var app = new TollgateApp();
        var tenant = await app.CreateTenantAsync(1000);
        using var admin = await app.AdminClientAsync();
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/admin/tenants/{tenant.Id}/keys/{tenant.KeyId}")).StatusCode);
        await (await admin.PostAsJsonAsync($"/api/admin/tenants/{tenant.Id}/keys/{tenant.KeyId}/rotate", new { gracePeriodSeconds = 60 })).ProblemAsync(409);
    }

    [Fact]
    public async Task AKeyPastTheExpiryChosenAtCreation_Is401()
    {
        // The test moves the clock an hour on: it must not cross into a new month, whose quota would start again from 0
        // (a fresh-clone run at 23:58 on the last of the month counted 2 of the 4 requests).
        var start = DateTimeOffset.UtcNow;
        var nextMonth = new DateTimeOffset(start.Year, start.Month, 1, 0, 0, 0, TimeSpan.Zero).AddMonths(1);
        var time = new FakeTimeProvider(nextMonth - start < TimeSpan.FromHours(2) ? nextMonth.AddMinutes(1) : start);
        await using var app = new TollgateApp(time: time);
        var tenant = await app.CreateTenantAsync(1000);
        using var admin = await app.AdminClientAsync();
        var expiresAt = time.GetUtcNow().UtcDateTime.AddHours(1);
        var created = await (await admin.PostAsJsonAsync($"/api/admin/tenants/{tenant.Id}/keys", new { name = "short", expiresAt })).ReadJsonAsync();
        using var client = app.TenantClient(created.GetProperty("key").GetString()!);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/ping")).StatusCode);
        time.Advance(TimeSpan.FromMinutes(61));
        await (await client.GetAsync("/api/v1/ping")).ProblemAsync(401);
    }
}
