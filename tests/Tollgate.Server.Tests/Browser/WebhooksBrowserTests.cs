using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Tollgate.Testing;
using Tollgate.Server.Tests.Webhooks;
using static Microsoft.Playwright.Assertions;

namespace Tollgate.Server.Tests.Browser;

/// <summary>
/// The Webhooks page in a real browser (Debian's Chromium through Playwright) against Tollgate on a real port: an admin
/// adds an endpoint pointing at a real receiver on loopback, sends it a test event, sees the delivery, disables the
/// endpoint and deletes it, all through the page. The receiver verifies the Standard Webhooks signature with the
/// secret the page showed. Every page is watched for console errors and uncaught exceptions.
/// </summary>
[Trait("Category", "Browser")]
public sealed class WebhooksBrowserTests(WebhooksBrowserTests.Fixture fixture) : IClassFixture<WebhooksBrowserTests.Fixture>, IAsyncLifetime
{
    /// <summary>
    /// For what waits on the server's background work (the dispatcher, the database): a loaded two-core machine running
    /// other suites can be slow, and a generous wait costs nothing when things are quick.
    /// </summary>
    private const float Generous = 30_000;

    private readonly ConsoleErrors _consoleErrors = new();
    private readonly List<IBrowserContext> _contexts = [];

    /// <summary>The demo app, with webhooks allowed to reach loopback, and the shared Chromium.</summary>
    public sealed class Fixture : IAsyncLifetime
    {
        /// <summary>
        /// The receiver listens on 127.0.0.1, which the app refuses by default (CONTRACT §9); the setting is the one
        /// <see cref="QuotaAlertWebhookTests"/> uses. Its short retries are left out: this page's test needs none.
        /// </summary>
        public BrowserFixture Browser { get; } = new(new Dictionary<string, string?> { ["Tollgate:Webhooks:AllowPrivateNetworks"] = "true" });

        /// <inheritdoc />
        public Task InitializeAsync() => Browser.InitializeAsync();

        /// <inheritdoc />
        public Task DisposeAsync() => Browser.DisposeAsync();
    }

    /// <inheritdoc />
    public Task InitializeAsync() => Task.CompletedTask;

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        foreach (var context in _contexts)
        {
            await context.CloseAsync();
        }
    }

    /// <summary>
    /// The whole life of an endpoint on the page: added (its secret shown once), a signed test event that the receiver
    /// verifies and the page lists as delivered, disabled, deleted.
    /// </summary>
    [Fact]
    public async Task WebhooksPage_AddsAnEndpoint_SendsASignedTestEvent_ListsItsDelivery_DisablesAndDeletesIt()
    {
        await using var receiver = WebhookReceiver.Start();
        // A receiver that takes a moment, as real ones do (they have the webhook timeout, 10 s): the page must keep
        // looking until the delivery is made. Its first version looked once, after 1.5 s, and then showed Pending for good.
        receiver.Delay = TimeSpan.FromSeconds(2);
        var page = await NewPageAsync();
        await page.GotoAsync("/webhooks");
        await Expect(page.Locator("#webhooks")).ToContainTextAsync("No webhooks yet.", new() { Timeout = Generous });

        // Add the endpoint through the dialog.
        await page.GetByRole(AriaRole.Button, new() { Name = "New webhook" }).ClickAsync();
        var dialog = page.GetByRole(AriaRole.Dialog);
        await dialog.GetByLabel("URL").FillAsync(receiver.Url);
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Save webhook" }).ClickAsync();
        await Expect(dialog).ToBeHiddenAsync(new() { Timeout = Generous });

        var row = page.Locator("#webhooks tr", new() { HasText = receiver.Url });
        await Expect(row).ToHaveCountAsync(1, new() { Timeout = Generous });
        await Expect(row).ToContainTextAsync("every tenant");
        await Expect(row).ToContainTextAsync("quota.threshold");
        await Expect(row.Locator(".badge")).ToHaveTextAsync("Enabled");

        // The secret is shown this once; the receiver verifies every delivery with it.
        await Expect(page.Locator("#secret-box")).ToBeVisibleAsync();
        await Expect(page.Locator("#secret")).ToHaveTextAsync(new Regex("^whsec_[A-Za-z0-9+/=]+$"));
        receiver.Secret = await page.Locator("#secret").TextContentAsync();

        // Send a test event from the endpoint's row. The mark on the window tells whether the page reloaded since.
        await page.EvaluateAsync("() => { window.__sameDocument = true; }");
        await row.GetByRole(AriaRole.Button, new() { Name = $"Send test event to {receiver.Url}" }).ClickAsync();
        var queued = page.Locator("#status");
        await Expect(queued).ToContainTextAsync(new Regex(@"Test event msg_[0-9a-f]+ queued"), new() { Timeout = Generous });
        var eventId = Regex.Match(await queued.TextContentAsync() ?? "", "msg_[0-9a-f]+").Value;

        await receiver.WaitForAsync(1, TimeSpan.FromSeconds(Generous / 1000));
        var delivery = Assert.Single(receiver.Received);
        Assert.Null(delivery.VerifyError);
        Assert.Equal(eventId, delivery.WebhookId);
        Assert.Equal("POST", delivery.Method);
        Assert.Equal("webhook.test", delivery.Json.GetProperty("type").GetString());

        // The page follows the test event by itself (no reload, no click on Refresh) until its attempt is listed.
        var deliveries = page.Locator("#deliveries-panel");
        await Expect(deliveries).ToBeVisibleAsync(new() { Timeout = Generous });
        await Expect(deliveries.GetByRole(AriaRole.Heading)).ToHaveTextAsync($"Deliveries to {receiver.Url}");
        var attempt = deliveries.Locator("#deliveries tr", new() { HasText = eventId });
        await Expect(attempt.Locator(".badge")).ToHaveTextAsync("Delivered", new() { Timeout = Generous });
        await Expect(attempt.Locator("td").Nth(2)).ToHaveTextAsync("webhook.test");
        await Expect(attempt.Locator("td").Nth(4)).ToHaveTextAsync("200");
        await Expect(attempt.Locator("td").Nth(5)).ToBeEmptyAsync();
        Assert.True(await page.EvaluateAsync<bool>("() => window.__sameDocument === true"), "The page reloaded.");

        // Shown once: after a reload the page has no secret to show (the list never carries it).
        await page.ReloadAsync();
        await Expect(row).ToHaveCountAsync(1, new() { Timeout = Generous });
        await Expect(page.Locator("#secret-box")).ToBeHiddenAsync();
        await Expect(page.Locator("body")).Not.ToContainTextAsync(receiver.Secret!);

        // Disable: the state says so and the button offers the way back.
        await row.GetByRole(AriaRole.Button, new() { Name = "Disable" }).ClickAsync();
        await Expect(row.Locator(".badge")).ToHaveTextAsync("Disabled", new() { Timeout = Generous });
        await Expect(row.GetByRole(AriaRole.Button, new() { Name = "Enable" })).ToBeVisibleAsync();

        // Delete, confirming in the page's dialog; gone from the page and, after a reload, from the server.
        await row.GetByRole(AriaRole.Button, new() { Name = $"Delete {receiver.Url}" }).ClickAsync();
        await page.GetByRole(AriaRole.Dialog).GetByRole(AriaRole.Button, new() { Name = "Delete webhook" }).ClickAsync();
        await Expect(page.Locator("#status")).ToContainTextAsync($"Deleted the webhook to {receiver.Url}.", new() { Timeout = Generous });
        await Expect(row).ToHaveCountAsync(0);
        await Expect(page.Locator("#webhooks")).ToContainTextAsync("No webhooks yet.");
        await page.ReloadAsync();
        await Expect(page.Locator("#webhooks")).ToContainTextAsync("No webhooks yet.", new() { Timeout = Generous });
        Assert.Single(receiver.Received);
        _consoleErrors.AssertNone();
    }

    private async Task<IPage> NewPageAsync()
    {
        var context = await fixture.Browser.Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = fixture.Browser.BaseUrl,
            ViewportSize = new() { Width = 1280, Height = 900 },
        });
        _contexts.Add(context);
        context.SetDefaultTimeout(Generous);
        // The session cookie of this request is the context's: its pages are signed in. Logging in is not what this
        // class tests (DashboardBrowserTests does it through the form).
        var response = await context.APIRequest.PostAsync("/api/auth/login", new()
        {
            DataObject = new { username = "admin", password = TollgateApp.AdminPassword },
        });
        Assert.True(response.Ok, $"Login answered {response.Status}.");

        var page = await context.NewPageAsync();
        _consoleErrors.Watch(page);
        return page;
    }

}
