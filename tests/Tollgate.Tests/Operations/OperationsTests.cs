using System.Net;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Operations;

public sealed class OperationsTests(SharedApp shared) : IClassFixture<SharedApp>
{
    private readonly TollgateApp _app = shared.App;

    [Theory]
    [InlineData("/healthz")]
    [InlineData("/readyz")]
    public async Task Health_IsOk(string url)
    {
        using var client = _app.CreateClient();
        var response = await client.GetAsync(url);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Healthy", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task OpenApi_DescribesTheJsonRoutes()
    {
        using var client = _app.CreateClient();
        var document = await (await client.GetAsync("/openapi/v1.json")).ReadJsonAsync();
        var paths = document.GetProperty("paths");
        foreach (var path in new[] { "/api/v1/users", "/api/v1/users/{id}", "/api/v1/ping", "/api/v1/usage", "/api/admin/plans", "/api/admin/tenants/{id}/keys", "/api/dashboard-data", "/api/auth/login" })
        {
            Assert.True(paths.TryGetProperty(path, out _), path);
        }
    }

    [Fact]
    public async Task UnknownRoute_Is404Problem()
    {
        using var client = _app.CreateClient();
        await (await client.GetAsync("/no/such/thing")).ProblemAsync(404);
    }

    [Fact]
    public async Task WrongMethod_Is405Problem()
    {
        using var client = _app.CreateClient();
        await (await client.PutAsync("/api/v1/ping", null)).ProblemAsync(405);
    }
}
