using System.Net;
using System.Net.Http.Json;
using Tollgate.Testing;

namespace Tollgate.Server.Tests.TenantApi;

public sealed class UsersApiTests(SharedApp shared) : IClassFixture<SharedApp>
{
    private readonly TollgateApp _app = shared.App;

    [Fact]
    public async Task Users_CreateListGetDelete_ScopedToTheCallingTenant()
    {
        var acme = await _app.CreateTenantAsync(1000);
        var wayne = await _app.CreateTenantAsync(1000);
        using var a = _app.TenantClient(acme.ApiKey);
        using var w = _app.TenantClient(wayne.ApiKey);

        var created = await a.PostAsJsonAsync("/api/v1/users", new { username = "alice@acme.com" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var user = await created.ReadJsonAsync();
        var id = user.GetProperty("id").GetInt64();
        Assert.Equal("alice@acme.com", user.GetProperty("username").GetString());
        Assert.Equal($"/api/v1/users/{id}", created.Headers.Location?.ToString());
        await w.PostAsJsonAsync("/api/v1/users", new { username = "bruce@wayne.com" });

        var list = await (await a.GetAsync("/api/v1/users")).ReadJsonAsync();
        var names = list.GetProperty("users").EnumerateArray().Select(u => u.GetProperty("username").GetString()).ToList();
        Assert.Equal(["alice@acme.com"], names);

        Assert.Equal(HttpStatusCode.OK, (await a.GetAsync($"/api/v1/users/{id}")).StatusCode);
        // Another tenant's user does not exist for you: 404, and it stays.
        await (await w.GetAsync($"/api/v1/users/{id}")).ProblemAsync(404);
        await (await w.DeleteAsync($"/api/v1/users/{id}")).ProblemAsync(404);
        Assert.Equal(HttpStatusCode.OK, (await a.GetAsync($"/api/v1/users/{id}")).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await a.DeleteAsync($"/api/v1/users/{id}")).StatusCode);
        await (await a.GetAsync($"/api/v1/users/{id}")).ProblemAsync(404);
        await (await a.DeleteAsync($"/api/v1/users/{id}")).ProblemAsync(404);
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("{\"username\":\"\"}")]
    [InlineData("{\"username\":\"   \"}")]
    [InlineData("{\"username\":5}")]
    [InlineData("{\"username\":[\"a\"]}")]
    [InlineData("[1,2]")]
    [InlineData("{\"username\":")]
    [InlineData("not json")]
    public async Task CreateUser_BadBody_Is400ProblemAndCreatesNothing(string body)
    {
        var tenant = await _app.CreateTenantAsync(1000);
        using var client = _app.TenantClient(tenant.ApiKey);
        var response = await client.PostAsync("/api/v1/users", Json.Raw(body));
        var problem = await response.ProblemAsync(400);
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("title").GetString()));
        var list = await (await client.GetAsync("/api/v1/users")).ReadJsonAsync();
        Assert.Empty(list.GetProperty("users").EnumerateArray());
    }

    [Fact]
    public async Task CreateUser_TooLongName_Is400WithTheFieldNamed()
    {
        var tenant = await _app.CreateTenantAsync(1000);
        using var client = _app.TenantClient(tenant.ApiKey);
        var response = await client.PostAsJsonAsync("/api/v1/users", new { username = new string('a', 255) });
        var problem = await response.ProblemAsync(400);
        Assert.True(problem.GetProperty("errors").TryGetProperty("username", out _));
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsJsonAsync("/api/v1/users", new { username = new string('a', 254) })).StatusCode);
    }

    [Fact]
    public async Task CreateUser_DuplicateName_Is409()
    {
        var tenant = await _app.CreateTenantAsync(1000);
        using var client = _app.TenantClient(tenant.ApiKey);
        await client.PostAsJsonAsync("/api/v1/users", new { username = "dup@x.com" });
        await (await client.PostAsJsonAsync("/api/v1/users", new { username = "dup@x.com" })).ProblemAsync(409);
    }

    [Theory]
    [InlineData("/api/v1/users/abc")]
    [InlineData("/api/v1/users/99999999999999999999999")]
    [InlineData("/api/v1/nothing-here")]
    public async Task UnknownRoutesAndIds_Are404Problems(string url)
    {
        var tenant = await _app.CreateTenantAsync(1000);
        using var client = _app.TenantClient(tenant.ApiKey);
        await (await client.GetAsync(url)).ProblemAsync(404);
    }

    [Fact]
    public async Task Ping_AnswersTheTenantName()
    {
        var tenant = await _app.CreateTenantAsync(1000, name: "Ping Corp " + Guid.NewGuid().ToString("N")[..6]);
        using var client = _app.TenantClient(tenant.ApiKey);
        var body = await (await client.GetAsync("/api/v1/ping")).ReadJsonAsync();
        Assert.Equal(tenant.Name, body.GetProperty("tenant").GetString());
    }
}
