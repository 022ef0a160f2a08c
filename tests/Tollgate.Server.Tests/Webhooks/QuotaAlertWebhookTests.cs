using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Tollgate.Testing;

namespace Tollgate.Server.Tests.Webhooks;

/// <summary>
/// Quota alerts end to end, on the database of <c>TOLLGATE_TEST_DATABASE</c>: requests cross thresholds, the usage
/// writer stores the outbox row with the usage, the dispatcher signs and POSTs to a real receiver that verifies each
/// signature with the endpoint's secret.
/// </summary>
public sealed class QuotaAlertWebhookTests
{
    /// <summary>Loopback receivers need the option; a short first retry keeps the retry tests quick.</summary>
    internal static readonly Dictionary<string, string?> Settings = new()
    {
        ["Tollgate:Webhooks:AllowPrivateNetworks"] = "true",
        ["Tollgate:Webhooks:RetrySchedule"] = "00:00:01,00:00:01,00:00:01",
        ["Tollgate:Webhooks:PollInterval"] = "00:00:00.200",
        ["Tollgate:Webhooks:Timeout"] = "00:00:05",
    };

    [Fact]
    public async Task QuotaOfTen_SendsOne80EventAtTheEighthAndOne100EventAtTheTenth_NoneAfter()
    {
        await using var receiver = WebhookReceiver.Start();
        await using var app = new TollgateApp(settings: Settings);
        var tenant = await app.CreateTenantAsync(10);
        using var admin = await app.AdminClientAsync();
        receiver.Secret = await CreateWebhookAsync(admin, receiver.Url, tenant.Id);
        using var client = app.TenantClient(tenant.ApiKey);

        for (var i = 1; i <= 8; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/ping")).StatusCode);
        }

        await receiver.WaitForAsync(1);
        for (var i = 9; i <= 20; i++)
        {
            await client.GetAsync("/api/v1/ping");
        }

        await receiver.WaitForAsync(2);
        // The 11th to 20th were refused and cross nothing; whatever else could still come would come within this wait.
        await Task.Delay(TimeSpan.FromSeconds(2));
        var events = receiver.Received.ToList();
        Assert.Equal(2, events.Count);
        Assert.All(events, e => Assert.Null(e.VerifyError));
        Assert.All(events, e => Assert.Equal("POST", e.Method));
        Assert.Equal(2, events.Select(e => e.WebhookId).Distinct().Count());
        var (first, second) = (events[0].Json, events[1].Json);
        Assert.Equal("quota.threshold", first.GetProperty("type").GetString());
        var data = first.GetProperty("data");
        Assert.Equal(80, data.GetProperty("threshold").GetInt32());
        Assert.Equal(8, data.GetProperty("used").GetInt64());
        Assert.Equal(10, data.GetProperty("limit").GetInt64());
        Assert.Equal(tenant.Id, data.GetProperty("tenantId").GetInt64());
        Assert.Equal(tenant.Name, data.GetProperty("tenantName").GetString());
        Assert.Equal("Month", data.GetProperty("period").GetString());
        Assert.Equal(DateTime.Parse(data.GetProperty("periodStart").GetString()!, null, System.Globalization.DateTimeStyles.RoundtripKind).AddMonths(1),
            DateTime.Parse(data.GetProperty("resetAt").GetString()!, null, System.Globalization.DateTimeStyles.RoundtripKind));
        Assert.Equal(100, second.GetProperty("data").GetProperty("threshold").GetInt32());
        Assert.Equal(10, second.GetProperty("data").GetProperty("used").GetInt64());
        Assert.Equal(2, await app.Database.ScalarAsync("SELECT COUNT(*) FROM quota_alerts WHERE tenant_id = @t", ("@t", tenant.Id)));

        // The overview's alert: this tenant at 100 % this period.
        var alerts = await admin.GetFromJsonAsync<JsonElement>("/api/admin/alerts");
        var mine = alerts.EnumerateArray().Single(a => a.GetProperty("tenantId").GetInt64() == tenant.Id);
        Assert.Equal(100, mine.GetProperty("threshold").GetInt32());
    }

    [Fact]
    public async Task ReceiverAnswering500Then200_GetsTheSameWebhookIdTwice()
    {
        await using var receiver = WebhookReceiver.Start(answer: n => n == 1 ? 500 : 200);
        await using var app = new TollgateApp(settings: Settings);
        using var admin = await app.AdminClientAsync();
        receiver.Secret = await CreateWebhookAsync(admin, receiver.Url, null);
        var id = await WebhookIdAsync(admin);

        var test = await admin.PostAsync($"/api/admin/webhooks/{id}/test", Json.Raw(""));
        Assert.Equal(HttpStatusCode.Accepted, test.StatusCode);
        var eventId = (await test.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("eventId").GetString();

        await receiver.WaitForAsync(2);
        var received = receiver.Received.ToList();
        Assert.Equal([eventId, eventId], received.Select(r => r.WebhookId));
        Assert.All(received, r => Assert.Null(r.VerifyError));
        Assert.Equal("webhook.test", received[0].Json.GetProperty("type").GetString());

        var deliveries = await WaitForDeliveriesAsync(admin, id, 2);
        Assert.Equal([200, 500], deliveries.Select(d => d.GetProperty("statusCode").GetInt32()));
        Assert.Equal("Delivered", deliveries[0].GetProperty("status").GetString());
        Assert.NotEqual(JsonValueKind.Null, deliveries[1].GetProperty("nextAttempt").ValueKind);
    }

    [Fact]
    public async Task ReceiverAnswering410_DisablesTheEndpoint()
    {
        await using var receiver = WebhookReceiver.Start(answer: _ => 410);
        await using var app = new TollgateApp(settings: Settings);
        using var admin = await app.AdminClientAsync();
        receiver.Secret = await CreateWebhookAsync(admin, receiver.Url, null);
        var id = await WebhookIdAsync(admin);

        await admin.PostAsync($"/api/admin/webhooks/{id}/test", Json.Raw(""));
        await receiver.WaitForAsync(1);
        var hook = await WaitAsync(async () => await admin.GetFromJsonAsync<JsonElement>($"/api/admin/webhooks/{id}"), h => !h.GetProperty("enabled").GetBoolean());
        Assert.Contains("410", hook.GetProperty("disabledReason").GetString(), StringComparison.Ordinal);
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        Assert.Single(receiver.Received);
    }

    [Fact]
    public async Task EventPendingAtAGracefulStop_IsDeliveredAfterTheRestart_WithItsWebhookId()
    {
        var port = FreePort.Next();
        var settings = new Dictionary<string, string?>(Settings) { ["Tollgate:Webhooks:RetrySchedule"] = "00:00:02" };
        AppDatabase database;
        string secret;
        string? eventId;
        await using (var app = new TollgateApp(settings: settings))
        {
            database = app.Database;
            using var admin = await app.AdminClientAsync();
            secret = await CreateWebhookAsync(admin, $"http://127.0.0.1:{port}/hook", null);
            var id = await WebhookIdAsync(admin);
            var test = await admin.PostAsync($"/api/admin/webhooks/{id}/test", Json.Raw(""));
            eventId = (await test.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("eventId").GetString();
            // Nobody listens yet: the first attempt fails and the message waits for its retry when the app stops.
            await WaitForDeliveriesAsync(admin, id, 1);
        }

        Assert.Equal(1, await database.ScalarAsync("SELECT COUNT(*) FROM webhook_messages WHERE status = 'Pending'"));
        await using var receiver = WebhookReceiver.Start(port);
        receiver.Secret = secret;
        await using var restarted = new TollgateApp(database, settings: settings);
        _ = restarted.Server;
        await receiver.WaitForAsync(1);
        var delivery = Assert.Single(receiver.Received);
        Assert.Equal(eventId, delivery.WebhookId);
        Assert.Null(delivery.VerifyError);
    }

    [Fact]
    public async Task TwoInstancesOnOneDatabase_DeliverEachEventOnce()
    {
        await using var receiver = WebhookReceiver.Start();
        await using var a = new TollgateApp(settings: Settings);
        _ = a.Server;
        await using var b = new TollgateApp(a.Database, settings: Settings);
        _ = b.Server;
        using var adminA = await a.AdminClientAsync();
        using var adminB = await b.AdminClientAsync();
        var tenant = await a.CreateTenantAsync(5);
        // Slow answers keep messages leased and in flight while the other instance polls: only the lease keeps it off them.
        receiver.Delay = TimeSpan.FromMilliseconds(300);
        receiver.Secret = await CreateWebhookAsync(adminA, receiver.Url, null);
        var id = await WebhookIdAsync(adminA);

        var sent = new List<string>();
        for (var i = 0; i < 10; i++)
        {
            foreach (var admin in new[] { adminA, adminB })
            {
                var test = await admin.PostAsync($"/api/admin/webhooks/{id}/test", Json.Raw(""));
                sent.Add((await test.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("eventId").GetString()!);
            }
        }

        using var client = a.TenantClient(tenant.ApiKey);
        for (var i = 0; i < 5; i++)
        {
            await client.GetAsync("/api/v1/ping");
        }

        await receiver.WaitForAsync(22);
        await Task.Delay(TimeSpan.FromSeconds(2));
        var received = receiver.Received.ToList();
        Assert.Equal(22, received.Count);
        Assert.Equal(22, received.Select(r => r.WebhookId).Distinct().Count());
        Assert.Subset(received.Select(r => r.WebhookId).ToHashSet(), sent.ToHashSet());
        Assert.Equal([80, 100], received.Where(r => r.Json.GetProperty("type").GetString() == "quota.threshold")
            .Select(r => r.Json.GetProperty("data").GetProperty("threshold").GetInt32()).Order());
        Assert.All(received, r => Assert.Null(r.VerifyError));
    }

    private static readonly string[] QuotaEvents = ["quota.threshold"];

    internal static async Task<string> CreateWebhookAsync(HttpClient admin, string url, long? tenantId)
    {
        var response = await admin.PostAsJsonAsync("/api/admin/webhooks", new { url, tenantId, events = QuotaEvents });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var created = await response.Content.ReadFromJsonAsync<JsonElement>();
        var secret = created.GetProperty("secret").GetString()!;
        Assert.StartsWith("whsec_", secret, StringComparison.Ordinal);
        return secret;
    }

    private static async Task<long> WebhookIdAsync(HttpClient admin) =>
        (await admin.GetFromJsonAsync<JsonElement>("/api/admin/webhooks")).EnumerateArray().Last().GetProperty("id").GetInt64();

    private static async Task<List<JsonElement>> WaitForDeliveriesAsync(HttpClient admin, long id, int attempts)
    {
        var rows = await WaitAsync(
            async () => await admin.GetFromJsonAsync<JsonElement>($"/api/admin/webhooks/{id}/deliveries"),
            d => d.EnumerateArray().Count(r => r.GetProperty("time").ValueKind != JsonValueKind.Null) >= attempts);
        return [.. rows.EnumerateArray().Where(r => r.GetProperty("time").ValueKind != JsonValueKind.Null)];
    }

    private static async Task<T> WaitAsync<T>(Func<Task<T>> read, Func<T, bool> done)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            var value = await read();
            if (done(value))
            {
                return value;
            }

            Assert.True(DateTime.UtcNow < deadline, "Timed out waiting.");
            await Task.Delay(100);
        }
    }
}
