using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Tollgate.Testing;

namespace Tollgate.Server.Tests.Admin;

/// <summary>The audit log: filters, paging, CSV, and scope.</summary>
public sealed class AuditApiTests
{
    [Fact]
    public async Task TheAuditLog_FiltersByActorTenantActionAndTime_PagesNewestFirst_AndExportsCsv()
    {
        await using var app = new TollgateApp();
        var a = await app.CreateTenantAsync(10);
        var b = await app.CreateTenantAsync(10);
        using var admin = await app.AdminClientAsync();
        for (var i = 0; i < 3; i++)
        {
            (await admin.PostAsJsonAsync($"/api/admin/tenants/{a.Id}/keys", new { name = "k" + i })).EnsureSuccessStatusCode();
        }

        var keys = await (await admin.GetAsync($"/api/admin/audit?tenantId={a.Id}&action=key.create")).ReadJsonAsync();
        Assert.Equal(4, keys.GetArrayLength());
        Assert.All(keys.EnumerateArray(), e => Assert.Equal(a.Id, e.GetProperty("tenantId").GetInt64()));
        var ids = keys.EnumerateArray().Select(e => e.GetProperty("id").GetInt64()).ToList();
        Assert.Equal(ids.OrderDescending(), ids);

        var first = await (await admin.GetAsync($"/api/admin/audit?tenantId={a.Id}&action=key.&limit=2")).ReadJsonAsync();
        var second = await (await admin.GetAsync($"/api/admin/audit?tenantId={a.Id}&action=key.&limit=2&before={first[1].GetProperty("id").GetInt64()}")).ReadJsonAsync();
        Assert.Equal(ids, first.EnumerateArray().Concat(second.EnumerateArray()).Select(e => e.GetProperty("id").GetInt64()));

        Assert.Equal(0, (await (await admin.GetAsync("/api/admin/audit?actor=somebody-else")).ReadJsonAsync()).GetArrayLength());
        Assert.Equal(0, (await (await admin.GetAsync($"/api/admin/audit?from={DateTime.UtcNow.AddHours(1):O}")).ReadJsonAsync()).GetArrayLength());
        Assert.True((await (await admin.GetAsync($"/api/admin/audit?to={DateTime.UtcNow.AddHours(1):O}&actor=admin")).ReadJsonAsync()).GetArrayLength() > 4);

        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/admin/audit?tenantId={b.Id}");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/csv"));
        var csv = await admin.SendAsync(request);
        Assert.Equal("text/csv", csv.Content.Headers.ContentType?.MediaType);
        var lines = (await csv.Content.ReadAsStringAsync()).TrimEnd('\n').Split('\n');
        Assert.Equal("id,timestamp,actor,action,target,tenant_id,details", lines[0]);
        Assert.Equal(["key.create", "tenant.create"], lines.Skip(1).Select(l => l.Split(',')[3]));
    }

    [Fact]
    public async Task ATenantAdmin_SeesOnlyItsTenantsEntries()
    {
        await using var app = new TollgateApp();
        var mine = await app.CreateTenantAsync(10);
        var other = await app.CreateTenantAsync(10);
        using var client = await app.AdminClientAsync("TenantAdmin", mine.Id);
        var entries = await (await client.GetAsync("/api/admin/audit")).ReadJsonAsync();
        Assert.NotEqual(0, entries.GetArrayLength());
        Assert.All(entries.EnumerateArray(), e => Assert.Equal(mine.Id, e.GetProperty("tenantId").GetInt64()));
        Assert.Equal(0, (await (await client.GetAsync($"/api/admin/audit?tenantId={other.Id}")).ReadJsonAsync()).GetArrayLength());
    }

    [Fact]
    public async Task AnAuditLimitOutOfRange_Is400()
    {
        await using var app = new TollgateApp();
        using var admin = await app.AdminClientAsync();
        await (await admin.GetAsync("/api/admin/audit?limit=0")).ProblemAsync(400);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/api/admin/audit?limit=1000")).StatusCode);
    }
}
