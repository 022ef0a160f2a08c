using System.Net;
using Tollgate.Testing;

namespace Tollgate.Server.Tests.Operations;

[Collection(MetricsCollection.Name)]
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
        foreach (var path in new[] { "/api/v1/users", "/api/v1/users/{id}", "/api/v1/ping", "/api/v1/usage", "/api/admin/plans", "/api/admin/tenants/{id}/keys", "/api/admin/tenants/{id}/statements", "/api/admin/tenants/{id}/statements/{month}", "/api/dashboard-data", "/api/auth/login" })
        {
            Assert.True(paths.TryGetProperty(path, out _), path);
        }
    }

    [Fact]
    public async Task Metrics_ArePrometheusText_WithTheStoredEventsByOutcome()
    {
        var tenant = await _app.CreateTenantAsync(1);
        using (var client = _app.TenantClient(tenant.ApiKey))
        {
            await client.GetAsync("/api/v1/ping");
            await client.GetAsync("/api/v1/ping");
        }

        using var plain = _app.CreateClient();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        string text;
        do
        {
            await Task.Delay(100);
            text = await plain.GetStringAsync("/metrics");
        }
        while (!text.Contains("outcome=\"QuotaExceeded\"", StringComparison.Ordinal) && DateTime.UtcNow < deadline);

        Assert.Contains("tollgate_usage_events_total{", text, StringComparison.Ordinal);
        Assert.Contains("outcome=\"Admitted\"", text, StringComparison.Ordinal);
        Assert.Contains("outcome=\"QuotaExceeded\"", text, StringComparison.Ordinal);
        Assert.Contains("tollgate_usage_queue_length", text, StringComparison.Ordinal);
        Assert.Contains("tollgate_limits_shared_degraded", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnknownRoute_Is404Problem()
    {
        using var client = _app.CreateClient();
        await (await client.GetAsync("/no/such/thing")).ProblemAsync(404);
    }

    [Fact]
    public async Task UnknownRoute_ForAClientThatTakesNoJson_IsPlainText()
    {
        using var client = _app.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/no/such/page");
        request.Headers.Accept.ParseAdd("text/html");

        var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("Status Code: 404; Not Found", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task WrongMethod_Is405Problem()
    {
        using var client = _app.CreateClient();
        await (await client.PutAsync("/api/v1/ping", null)).ProblemAsync(405);
    }

    [Fact]
    public async Task BodyThatDoesNotBind_OnAMeteredRoute_Is400Problem()
    {
        var tenant = await _app.CreateTenantAsync(100);
        using var client = _app.TenantClient(tenant.ApiKey);
        using var body = new StringContent("{not json", System.Text.Encoding.UTF8, "application/json");

        var problem = await (await client.PostAsync("/api/v1/users", body)).ProblemAsync(400);

        Assert.Contains("could not be read", problem.GetProperty("detail").GetString());
    }
}
