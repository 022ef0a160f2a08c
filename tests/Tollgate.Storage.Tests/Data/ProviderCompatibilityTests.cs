using System.Net;
using System.Net.Http.Json;
using Tollgate.Data;
using Tollgate.Testing;

namespace Tollgate.Storage.Tests.Data;

/// <summary>EF Core queries whose SQL differs per provider, run on each: what one server accepts another may not.</summary>
public sealed class ProviderCompatibilityTests
{
    [Theory]
    [MemberData(nameof(DatabaseProviders.All), MemberType = typeof(DatabaseProviders))]
    public async Task DeleteUser_RemovesOnlyThatRow(DatabaseProvider provider)
    {
        await using var app = new TollgateApp(provider);
        var tenant = await app.CreateTenantAsync(quota: 100);
        using var client = app.TenantClient(tenant.ApiKey);
        var kept = await (await client.PostAsJsonAsync("/api/v1/users", new { username = "kept@example.com" })).Content.ReadFromJsonAsync<IdDto>();
        var gone = await (await client.PostAsJsonAsync("/api/v1/users", new { username = "gone@example.com" })).Content.ReadFromJsonAsync<IdDto>();

        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync($"/api/v1/users/{gone!.Id}")).StatusCode);

        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/api/v1/users/{gone.Id}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/api/v1/users/{kept!.Id}")).StatusCode);
        Assert.Equal(1, await app.Database.ScalarAsync("SELECT COUNT(*) FROM users WHERE tenant_id = @t", ("@t", tenant.Id)));
    }

    [Theory]
    [MemberData(nameof(DatabaseProviders.All), MemberType = typeof(DatabaseProviders))]
    public async Task Setup_ResetWithHistory_ReplacesTheDemoData(DatabaseProvider provider)
    {
        // The demo's history goes through the provider's batch store; the reset deletes with ExecuteDelete and Contains.
        await using var app = new TollgateApp(provider);
        using var admin = await app.AdminClientAsync();
        (await admin.PostAsJsonAsync("/api/admin/setup", new { reset = false, historyDays = 2 })).EnsureSuccessStatusCode();
        var before = await app.Database.ScalarAsync("SELECT COUNT(*) FROM usage_logs");

        var reset = await admin.PostAsJsonAsync("/api/admin/setup", new { reset = true, historyDays = 1 });

        Assert.Equal(HttpStatusCode.OK, reset.StatusCode);
        var after = await app.Database.ScalarAsync("SELECT COUNT(*) FROM usage_logs");
        Assert.InRange(after, 1, before - 1);
        Assert.Equal(after, await app.Database.ScalarAsync("SELECT SUM(count) FROM usage_rollups"));
    }

    [Theory]
    [InlineData("DELETE FROM `users` AS `u`\nWHERE `u`.`id` = @p0", "DELETE `u` FROM `users` AS `u`\nWHERE `u`.`id` = @p0")]
    [InlineData("DELETE FROM `users`\nWHERE `id` = @p0", "DELETE FROM `users`\nWHERE `id` = @p0")]
    [InlineData("SELECT 1", "SELECT 1")]
    public void MariaDbDeleteInterceptor_RewritesOnlyAliasedDeletes(string sql, string expected) =>
        Assert.Equal(expected, MariaDbDeleteInterceptor.Rewrite(sql));

    private sealed record IdDto(long Id);
}
