using System.Net;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Tollgate.Data;
using Tollgate.Testing;
using static Microsoft.Playwright.Assertions;

namespace Tollgate.Server.Tests.Browser;

/// <summary>
/// The dashboard in a real browser (Debian's Chromium through Playwright) against Tollgate on a real port, with the
/// demo data. Every page a test opens is watched for console errors and uncaught exceptions, and fails the test
/// if it has any.
/// </summary>
[Trait("Category", "Browser")]
public sealed class DashboardBrowserTests(BrowserFixture fixture) : IClassFixture<BrowserFixture>, IAsyncLifetime
{
    private static readonly ViewportSize Desktop = new() { Width = 1280, Height = 900 };
    private static readonly ViewportSize Phone = new() { Width = 390, Height = 844 };

    private readonly List<string> _consoleErrors = [];
    private readonly List<IBrowserContext> _contexts = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var context in _contexts)
        {
            await context.CloseAsync();
        }
    }

    [Fact]
    public async Task Login_LeadsToTheLiveOverview_WithBothDemoTenants()
    {
        var page = await NewPageAsync(signedIn: false);

        await page.GotoAsync("/");
        await Expect(page).ToHaveURLAsync(new Regex("/login"));
        await page.GetByLabel("User name").FillAsync("admin");
        await page.GetByLabel("Password").FillAsync(TollgateApp.AdminPassword);
        await page.GetByRole(AriaRole.Button, new() { Name = "Log in" }).ClickAsync();

        await Expect(page).ToHaveURLAsync(fixture.BaseUrl + "/");
        await Expect(TenantRow(page, "Acme Corp")).ToBeVisibleAsync();
        await Expect(TenantRow(page, "Wayne Ent")).ToBeVisibleAsync();
        await Expect(page.Locator("#live")).ToHaveTextAsync("Live");
        await Expect(page.Locator("#total-tenants")).Not.ToHaveTextAsync("–");
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task Logout_EndsTheSession_AndPagesSendYouToLogin()
    {
        var page = await NewPageAsync();
        await page.GotoAsync("/");
        await Expect(page.Locator("#who-name")).ToContainTextAsync("admin");

        await page.GetByRole(AriaRole.Button, new() { Name = "Log out" }).ClickAsync();

        await Expect(page).ToHaveURLAsync(new Regex("/login$"));
        await page.GotoAsync("/plans");
        await Expect(page).ToHaveURLAsync(new Regex("/login\\?ReturnUrl=%2Fplans"));
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task Overview_CountsRequestsMadeWithATenantKey_WithoutReloading_WithinTwoSeconds()
    {
        var tenant = await fixture.CreateTenantAsync(quota: 1_000_000);
        var page = await NewPageAsync();
        await page.GotoAsync("/");
        var row = TenantRow(page, tenant.Name);
        await Expect(row.Locator(".usage-text")).ToHaveTextAsync("0 / 1,000,000");
        await page.EvaluateAsync("() => { window.__sameDocument = true; }");

        using var client = fixture.TenantClient(tenant.ApiKey);
        for (var i = 0; i < 5; i++)
        {
            (await client.GetAsync("/api/v1/ping")).EnsureSuccessStatusCode();
        }

        await Expect(row.Locator(".usage-text")).ToHaveTextAsync("5 / 1,000,000", new() { Timeout = 2_000 });
        Assert.True(await page.EvaluateAsync<bool>("() => window.__sameDocument === true"), "The page reloaded.");
        // The last-minute counters come from the usage writer, a moment later.
        await Expect(row.Locator("td").Nth(4)).ToHaveTextAsync("5");
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task Overview_TenantThatUsedItsQuota_ShowsBlocked()
    {
        var tenant = await fixture.CreateTenantAsync(quota: 3);
        var page = await NewPageAsync();
        await page.GotoAsync("/");
        var row = TenantRow(page, tenant.Name);
        await Expect(row.Locator(".badge").First).ToHaveTextAsync("Normal");

        using var client = fixture.TenantClient(tenant.ApiKey);
        for (var i = 0; i < 3; i++)
        {
            (await client.GetAsync("/api/v1/ping")).EnsureSuccessStatusCode();
        }

        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.GetAsync("/api/v1/ping")).StatusCode);
        await Expect(row.Locator(".badge").First).ToHaveTextAsync("Blocked", new() { Timeout = 2_000 });
        await Expect(row.Locator(".badge.blocked")).ToBeVisibleAsync();
        await Expect(row.Locator(".usage-text")).ToHaveTextAsync("3 / 3");

        // The status filter narrows the table to it.
        await page.GetByLabel("Status").SelectOptionAsync("Blocked");
        await Expect(TenantRow(page, tenant.Name)).ToBeVisibleAsync();
        await Expect(TenantRow(page, "Acme Corp")).ToHaveCountAsync(0);
        Assert.Contains("status=Blocked", page.Url, StringComparison.Ordinal);
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task Overview_SortsAndFilters_WithTheKeyboardOnly()
    {
        var page = await NewPageAsync();
        await page.GotoAsync("/");
        await Expect(TenantRow(page, "Wayne Ent")).ToBeVisibleAsync();

        // The tenants that need attention come first; tab from the top of the page to the tenant column's sort button,
        // and press Enter: A to Z, sorted by the server.
        await Expect(page.Locator("th[data-key='status']")).ToHaveAttributeAsync("aria-sort", "descending");
        var header = page.Locator("th[data-key='name']");
        await TabUntilAsync(page, "th[data-key='name'] button");
        await page.Keyboard.PressAsync("Enter");
        await Expect(header).ToHaveAttributeAsync("aria-sort", "ascending");
        await Expect(page).ToHaveURLAsync(new Regex("sort=name"));
        await page.Keyboard.PressAsync("Enter");
        await Expect(header).ToHaveAttributeAsync("aria-sort", "descending");
        await Expect(page).ToHaveURLAsync(new Regex("sort=name&dir=desc"));
        // The new order arrives with the new stream's first message.
        IReadOnlyList<string> names = [];
        for (var deadline = DateTime.UtcNow.AddSeconds(5); DateTime.UtcNow < deadline; await Task.Delay(50))
        {
            names = await page.Locator("#rows tr td:first-child a").AllTextContentsAsync();
            if (names.SequenceEqual(names.OrderByDescending(n => n, StringComparer.OrdinalIgnoreCase)))
            {
                break;
            }
        }

        Assert.Equal(names.OrderByDescending(n => n, StringComparer.OrdinalIgnoreCase).ToList(), names.ToList());

        // Back up to the filter, which sits above the table.
        await TabUntilAsync(page, "#filter", backwards: true);
        await page.Keyboard.TypeAsync("wayne");
        await Expect(page.Locator("#rows tr")).ToHaveCountAsync(1);
        await Expect(TenantRow(page, "Wayne Ent")).ToBeVisibleAsync();
        Assert.Contains("q=wayne", page.Url, StringComparison.Ordinal);

        // On to the tenant's page, still by keyboard.
        await TabUntilAsync(page, "#rows a");
        await page.Keyboard.PressAsync("Enter");
        await Expect(page).ToHaveURLAsync(new Regex($"/tenants/{fixture.Demo["Wayne Ent"].Id}$"));
        await Expect(page.Locator("#tenant-name")).ToHaveTextAsync("Wayne Ent");
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task Overview_ShowsWarningAndBlockedTenants_AndTheirTotals()
    {
        var warning = await fixture.CreateTenantAsync(quota: 100, name: "Cyberdyne Systems");
        var blocked = await fixture.CreateTenantAsync(quota: 20, period: "Day", name: "Soylent Corp");
        await SendAsync(warning.ApiKey, 85);
        await SendAsync(blocked.ApiKey, 25);
        await SendAsync(fixture.Demo["Wayne Ent"].ApiKey, 30);
        await SendAsync(fixture.Demo["Acme Corp"].ApiKey, 12);
        var page = await NewPageAsync();

        await page.GotoAsync("/");

        await Expect(TenantRow(page, "Cyberdyne Systems").Locator(".badge").First).ToHaveTextAsync("Warning");
        await Expect(TenantRow(page, "Cyberdyne Systems").Locator(".bar.warning")).ToHaveAttributeAsync("aria-valuenow", "85");
        await Expect(TenantRow(page, "Soylent Corp").Locator(".badge").First).ToHaveTextAsync("Blocked");
        await Expect(TenantRow(page, "Soylent Corp").Locator(".bar")).ToHaveAttributeAsync("aria-valuenow", "100");
        await Expect(page.Locator("#total-warning")).Not.ToHaveTextAsync("0");
        await Expect(page.Locator("#total-blocked")).Not.ToHaveTextAsync("0");
        // Wait for the last-minute counters (fed by the usage writer) so the picture shows traffic.
        await Expect(TenantRow(page, "Wayne Ent").Locator("td").Nth(4)).Not.ToHaveTextAsync("0");
        await Expect(TenantRow(page, "Soylent Corp").Locator("td").Nth(4)).ToHaveTextAsync("25");
        await Expect(TenantRow(page, "Soylent Corp").Locator("td").Nth(6)).Not.ToHaveTextAsync("–");
        // The picture in the README (docs/dashboard.png) is this one.
        await Screenshot(page, "dashboard");
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task Overview_WhenTheStreamDrops_SaysReconnecting_AndComesBackLive()
    {
        var page = await NewPageAsync();
        var calls = 0;
        await page.RouteAsync(new Regex("/api/admin/stream"), async route =>
        {
            switch (Interlocked.Increment(ref calls))
            {
                case 1:
                    // A stream that ends after one snapshot, as when a server restarts.
                    await route.FulfillAsync(new()
                    {
                        Status = 200,
                        ContentType = "text/event-stream",
                        Body = "event: page\ndata: " + PageJson(2) + "\n\n",
                    });
                    break;
                case 2:
                    await route.AbortAsync("connectionrefused");
                    break;
                default:
                    await route.ContinueAsync();
                    break;
            }
        });

        await page.GotoAsync("/");
        await Expect(TenantRow(page, "Tenant 00001")).ToBeVisibleAsync();
        await Expect(page.Locator("#live")).ToHaveTextAsync("Reconnecting…");
        await Expect(page.Locator("#live")).ToHaveAttributeAsync("data-state", "reconnecting");

        await Expect(page.Locator("#live")).ToHaveTextAsync("Live", new() { Timeout = 15_000 });
        await Expect(TenantRow(page, "Wayne Ent")).ToBeVisibleAsync();
        await Expect(TenantRow(page, "Tenant 00001")).ToHaveCountAsync(0);
        Assert.True(calls >= 3, $"The stream was opened {calls} times.");
        // The refused connection is the one console error this test causes on purpose.
        lock (_consoleErrors)
        {
            _consoleErrors.RemoveAll(e => e.Contains("ERR_CONNECTION_REFUSED", StringComparison.Ordinal) || e.Contains("ERR_FAILED", StringComparison.Ordinal));
        }

        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task RoutesPage_AddsARouteThatServesAtOnce_AndDeletesIt_AfterConfirming()
    {
        await using var upstream = await AspNetUpstream.StartAsync();
        var tenant = await fixture.CreateTenantAsync(quota: 1_000);
        using var client = fixture.TenantClient(tenant.ApiKey);
        var page = await NewPageAsync();
        await page.GotoAsync("/routes");

        await page.GetByRole(AriaRole.Button, new() { Name = "New route" }).ClickAsync();
        var dialog = page.GetByRole(AriaRole.Dialog);
        await dialog.GetByLabel("Path").FillAsync("/browser-shop/{**rest}");
        await dialog.GetByLabel("Upstream").FillAsync(upstream.Address);
        await dialog.GetByLabel("Cost (units)").FillAsync("2");
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Save route" }).ClickAsync();

        var row = page.Locator("#routes tr", new() { HasText = "/browser-shop/{**rest}" });
        await Expect(row).ToContainTextAsync(upstream.Address);
        // Served at once, metered at the route's cost.
        using (var answer = await client.GetAsync("/browser-shop/items"))
        {
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            Assert.Equal("998", answer.Headers.GetValues("X-RateLimit-Remaining").Single());
        }

        Assert.Equal(1, upstream.CallsFor(tenant.Id));

        // Cancelling the confirmation keeps the route.
        await row.GetByRole(AriaRole.Button, new() { Name = "Delete /browser-shop/{**rest}" }).ClickAsync();
        await page.GetByRole(AriaRole.Dialog).GetByRole(AriaRole.Button, new() { Name = "Cancel" }).ClickAsync();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/browser-shop/items")).StatusCode);

        await row.GetByRole(AriaRole.Button, new() { Name = "Delete /browser-shop/{**rest}" }).ClickAsync();
        await page.GetByRole(AriaRole.Dialog).GetByRole(AriaRole.Button, new() { Name = "Delete route" }).ClickAsync();
        await Expect(row).ToHaveCountAsync(0);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/browser-shop/items")).StatusCode);
        Assert.Equal(2, upstream.CallsFor(tenant.Id));
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task TenantPage_NewKey_IsShownOnce_AndNotAfterReload()
    {
        var tenant = await fixture.CreateTenantAsync(quota: 1_000);
        var page = await NewPageAsync();
        await page.GotoAsync($"/tenants/{tenant.Id}");

        await page.GetByLabel("Name", new() { Exact = true }).FillAsync("browser key");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create key" }).ClickAsync();

        var shown = page.Locator("#new-key-value");
        await Expect(shown).ToHaveValueAsync(new Regex("^tg_"));
        await Expect(page.Locator("#new-key")).ToContainTextAsync("will not be shown again");
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Copy", Exact = true })).ToBeVisibleAsync();
        var key = await shown.InputValueAsync();
        await Expect(page.Locator("#keys tr", new() { HasText = "browser key" })).ToContainTextAsync(key[..8]);
        using (var client = fixture.TenantClient(key))
        {
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/ping")).StatusCode);
        }

        await Screenshot(page, "tenant-new-key");
        await page.ReloadAsync();
        await Expect(page.Locator("#keys tr", new() { HasText = "browser key" })).ToBeVisibleAsync();
        await Expect(shown).ToHaveCountAsync(0);
        Assert.DoesNotContain(key, await page.ContentAsync(), StringComparison.Ordinal);
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task TenantPage_RevokingAKey_AfterConfirming_MakesTheApiAnswer401()
    {
        var tenant = await fixture.CreateTenantAsync(quota: 1_000);
        using var client = fixture.TenantClient(tenant.ApiKey);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/ping")).StatusCode);
        var page = await NewPageAsync();
        await page.GotoAsync($"/tenants/{tenant.Id}");
        var row = page.Locator($"#keys tr[data-key-id='{tenant.KeyId}']");
        await Expect(row.Locator(".badge")).ToHaveTextAsync("Active");

        // Cancelling changes nothing.
        await row.GetByRole(AriaRole.Button, new() { Name = "Revoke" }).ClickAsync();
        await page.GetByRole(AriaRole.Dialog).GetByRole(AriaRole.Button, new() { Name = "Cancel" }).ClickAsync();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/ping")).StatusCode);

        await row.GetByRole(AriaRole.Button, new() { Name = "Revoke" }).ClickAsync();
        await page.GetByRole(AriaRole.Dialog).GetByRole(AriaRole.Button, new() { Name = "Revoke key" }).ClickAsync();

        await Expect(row.Locator(".badge")).ToHaveTextAsync("Revoked");
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/v1/ping")).StatusCode);
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task TenantPage_WithHistory_DrawsBothCharts_AndKeepsTheRangeInTheUrl()
    {
        var wayne = fixture.Demo["Wayne Ent"].Id;
        var page = await NewPageAsync();
        await page.GotoAsync($"/tenants/{wayne}?range=7d");
        await Expect(page.Locator("[data-range='7d']")).ToHaveAttributeAsync("aria-pressed", "true");

        await AssertCanvasDrawnAsync(page, "#requests-chart");
        await AssertCanvasDrawnAsync(page, "#latency-chart");
        await Expect(page.Locator("#endpoints tr")).Not.ToHaveCountAsync(0);
        await Expect(page.Locator("#endpoints")).ToContainTextAsync("/api/v1/users");
        await Expect(page.Locator("#codes")).ToContainTextAsync("200");
        await Expect(page.Locator("#users")).ToContainTextAsync("bruce@wayne.com");
        await Expect(page.Locator("#log tr")).ToHaveCountAsync(25);

        await page.GetByRole(AriaRole.Button, new() { Name = "30 d" }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex("range=30d"));
        await page.ReloadAsync();
        await Expect(page.Locator("[data-range='30d']")).ToHaveAttributeAsync("aria-pressed", "true");
        await AssertCanvasDrawnAsync(page, "#requests-chart");
        await page.GoBackAsync();
        await Expect(page.Locator("[data-range='7d']")).ToHaveAttributeAsync("aria-pressed", "true");
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task TenantPage_RequestLog_PagesOlder_AndExportsCsv()
    {
        var wayne = fixture.Demo["Wayne Ent"].Id;
        var page = await NewPageAsync();
        await page.GotoAsync($"/tenants/{wayne}?range=24h");
        await Expect(page.Locator("#log tr")).ToHaveCountAsync(25);
        // Rows are told apart by their id: many pings in one second look the same.
        var first = await page.Locator("#log tr").First.GetAttributeAsync("data-id");

        await page.GetByRole(AriaRole.Button, new() { Name = "Older →" }).ClickAsync();
        await Expect(page.Locator("#log-page")).ToHaveTextAsync("Page 2");
        var older = long.Parse(await page.Locator("#log tr").First.GetAttributeAsync("data-id") ?? "0", System.Globalization.CultureInfo.InvariantCulture);
        Assert.NotEqual(long.Parse(first!, System.Globalization.CultureInfo.InvariantCulture), older);
        await page.GetByRole(AriaRole.Button, new() { Name = "← Newer" }).ClickAsync();
        await Expect(page.Locator("#log tr").First).ToHaveAttributeAsync("data-id", first!);

        var download = await page.RunAndWaitForDownloadAsync(() => page.GetByRole(AriaRole.Button, new() { Name = "Export CSV" }).ClickAsync());
        var path = Path.Combine(BrowserFixture.ScreenshotFolder, "wayne-log.csv");
        await download.SaveAsAsync(path);
        var lines = await File.ReadAllLinesAsync(path);
        Assert.Equal("id,timestamp,tenant_id,api_key_id,method,endpoint,status_code,latency_ms,outcome", lines[0]);
        Assert.True(lines.Length > 25, $"The CSV has {lines.Length} lines.");
        Assert.All(lines.Skip(1), line => Assert.Equal(wayne.ToString(System.Globalization.CultureInfo.InvariantCulture), line.Split(',')[2]));
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task TenantPage_Statements_ListTheLast12Months_AndDownloadAsCsv()
    {
        var wayne = fixture.Demo["Wayne Ent"].Id;
        var before = DateTime.UtcNow.ToString("yyyy-MM", System.Globalization.CultureInfo.InvariantCulture);
        var page = await NewPageAsync();
        await page.GotoAsync($"/tenants/{wayne}");

        var rows = page.Locator("#statements tr");
        await Expect(rows).ToHaveCountAsync(12);
        var after = DateTime.UtcNow.ToString("yyyy-MM", System.Globalization.CultureInfo.InvariantCulture);
        var newest = await rows.First.GetAttributeAsync("data-month");
        Assert.True(newest == before || newest == after, $"The newest statement is {newest}, not the current month.");
        await Expect(rows.First).ToContainTextAsync("in progress");
        // The demo's days of history fall in the last 12 months: some month has requests.
        var requests = await page.Locator("#statements tr td:nth-child(2)").AllTextContentsAsync();
        Assert.Contains(requests, r => r != "0");

        var all = await page.RunAndWaitForDownloadAsync(() => page.GetByRole(AriaRole.Button, new() { Name = "Download all (CSV)" }).ClickAsync());
        Assert.Matches($"^tollgate-statements-{wayne}-\\d{{4}}-\\d{{2}}-to-{newest}\\.csv$", all.SuggestedFilename);
        var allPath = Path.Combine(BrowserFixture.ScreenshotFolder, "wayne-statements.csv");
        await all.SaveAsAsync(allPath);
        var lines = await File.ReadAllLinesAsync(allPath);
        Assert.Equal("tenantId,tenantName,plan,month,from,to,requests,admitted,rateLimited,quotaExceeded,errors,p50Ms,p95Ms,p99Ms,complete", lines[0]);
        Assert.Equal(13, lines.Length);

        var one = await page.RunAndWaitForDownloadAsync(() => page.GetByRole(AriaRole.Button, new() { Name = $"Download the statement of {newest} as CSV" }).ClickAsync());
        Assert.Equal($"tollgate-statement-{wayne}-{newest}.csv", one.SuggestedFilename);
        var onePath = Path.Combine(BrowserFixture.ScreenshotFolder, "wayne-statement.csv");
        await one.SaveAsAsync(onePath);
        var oneLines = await File.ReadAllLinesAsync(onePath);
        Assert.Equal(2, oneLines.Length);
        Assert.Equal(lines[0], oneLines[0]);
        Assert.Equal(newest, oneLines[1].Split(',')[3]);
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task TenantPage_ChangesThePlan()
    {
        var tenant = await fixture.CreateTenantAsync(quota: 10);
        var page = await NewPageAsync();
        await page.GotoAsync($"/tenants/{tenant.Id}");
        await Expect(page.Locator("#plan-details")).ToContainTextAsync("plan " + tenant.Name);

        await page.GetByLabel("Change plan").SelectOptionAsync(new SelectOptionValue { Label = "Pro — 100,000 requests per month" });
        await page.GetByRole(AriaRole.Button, new() { Name = "Change plan" }).ClickAsync();

        await Expect(page.Locator("#plan-status")).ToContainTextAsync("Moved to Pro");
        await Expect(page.Locator("#plan-details")).ToContainTextAsync("100,000 requests per month");
        await page.ReloadAsync();
        await Expect(page.Locator("#plan-details dd").First).ToHaveTextAsync("Pro");
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task Overview_AddTenant_OpensTheNewTenantsPage()
    {
        var page = await NewPageAsync();
        await page.GotoAsync("/");

        await page.GetByRole(AriaRole.Button, new() { Name = "Add tenant" }).ClickAsync();
        var dialog = page.GetByRole(AriaRole.Dialog);
        await dialog.GetByLabel("Name").FillAsync("Massive Dynamic");
        await dialog.GetByLabel("Plan").SelectOptionAsync(new SelectOptionValue { Label = "Basic (1,000 / month)" });
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Create tenant" }).ClickAsync();

        await Expect(page).ToHaveURLAsync(new Regex("/tenants/\\d+$"));
        await Expect(page.Locator("#tenant-name")).ToHaveTextAsync("Massive Dynamic");
        await Expect(page.Locator("#plan-details dd").First).ToHaveTextAsync("Basic");
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task TenantPage_SuspendsReactivatesAndDeletesATenant()
    {
        var tenant = await fixture.CreateTenantAsync(quota: 100);
        using var client = fixture.TenantClient(tenant.ApiKey);
        var page = await NewPageAsync();
        await page.GotoAsync($"/tenants/{tenant.Id}");

        await page.GetByRole(AriaRole.Button, new() { Name = "Suspend tenant" }).ClickAsync();
        await page.GetByRole(AriaRole.Dialog).GetByRole(AriaRole.Button, new() { Name = "Suspend" }).ClickAsync();
        await Expect(page.Locator("#tenant-status .badge")).ToHaveTextAsync("Suspended");
        Assert.Equal(HttpStatusCode.Forbidden, (await client.GetAsync("/api/v1/ping")).StatusCode);

        await page.GetByRole(AriaRole.Button, new() { Name = "Reactivate tenant" }).ClickAsync();
        await Expect(page.Locator("#tenant-status .badge")).ToHaveTextAsync("Active");
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/ping")).StatusCode);

        await page.GetByRole(AriaRole.Button, new() { Name = "Delete tenant" }).ClickAsync();
        await page.GetByRole(AriaRole.Dialog).GetByRole(AriaRole.Button, new() { Name = "Delete tenant" }).ClickAsync();
        await Expect(page).ToHaveURLAsync(fixture.BaseUrl + "/");
        await Expect(TenantRow(page, "Wayne Ent")).ToBeVisibleAsync();
        await Expect(TenantRow(page, tenant.Name)).ToHaveCountAsync(0);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/v1/ping")).StatusCode);
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task PlansPage_CreatesAndEditsAPlan()
    {
        var name = "Team " + Guid.NewGuid().ToString("N")[..6];
        var page = await NewPageAsync();
        await page.GotoAsync("/plans");

        await page.GetByRole(AriaRole.Button, new() { Name = "New plan" }).ClickAsync();
        var dialog = page.GetByRole(AriaRole.Dialog);
        await dialog.GetByLabel("Name").FillAsync(name);
        await dialog.GetByLabel("Quota (requests)").FillAsync("5000");
        await dialog.GetByLabel("Per").SelectOptionAsync("Day");
        await dialog.GetByLabel("Rate limit (requests, optional)").FillAsync("10");
        await dialog.GetByLabel("Window (seconds)").FillAsync("2");
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Save plan" }).ClickAsync();

        var row = page.Locator("#plans tr", new() { HasText = name });
        await Expect(row).ToContainTextAsync("5,000");
        await Expect(row).ToContainTextAsync("Day");
        await Expect(row).ToContainTextAsync("10 per 2 s");

        await row.GetByRole(AriaRole.Button, new() { Name = "Edit" }).ClickAsync();
        await dialog.GetByLabel("Quota (requests)").FillAsync("6000");
        await dialog.GetByLabel("Rate limit (requests, optional)").FillAsync("");
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Save plan" }).ClickAsync();
        await Expect(row).ToContainTextAsync("6,000");
        await Expect(row).ToContainTextAsync("none");
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task SetupPage_CreatesTheDemo_AndShowsTheNewKeysOnce()
    {
        var page = await NewPageAsync();
        await page.GotoAsync("/setup");
        await page.GetByLabel("Days of history").FillAsync("0");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create demo data" }).ClickAsync();

        var keys = page.Locator("[data-testid='demo-keys']");
        await Expect(keys).ToContainTextAsync("not shown again");
        await Expect(keys.GetByLabel("API key of Acme Corp")).ToHaveValueAsync(new Regex("^tg_"));
        var key = await keys.GetByLabel("API key of Wayne Ent").InputValueAsync();
        using var client = fixture.TenantClient(key);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/ping")).StatusCode);
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task EveryPage_OnDesktopAndPhone_LoadsWithoutConsoleErrors_AndFitsTheScreen()
    {
        var acme = fixture.Demo["Acme Corp"].Id;
        var wayne = fixture.Demo["Wayne Ent"].Id;
        foreach (var (size, viewport) in new[] { ("desktop", Desktop), ("phone", Phone) })
        {
            var loggedOut = await NewPageAsync(viewport, signedIn: false);
            await loggedOut.GotoAsync("/login");
            await Expect(loggedOut.GetByRole(AriaRole.Button, new() { Name = "Log in" })).ToBeVisibleAsync();
            await Screenshot(loggedOut, $"login-{size}");

            var page = await NewPageAsync(viewport);
            foreach (var (name, path, ready) in new[]
            {
                ("overview", "/", "#rows a"),
                ("tenant", $"/tenants/{wayne}?range=7d", "#log tr td"),
                ("tenant-small", $"/tenants/{acme}?range=24h", "#log tr td"),
                ("plans", "/plans", "#plans tr[data-plan-id]"),
                ("setup", "/setup", "#setup"),
            })
            {
                await page.GotoAsync(path);
                await Expect(page.Locator(ready).First).ToBeVisibleAsync();
                if (name.StartsWith("tenant", StringComparison.Ordinal))
                {
                    await AssertCanvasDrawnAsync(page, "#requests-chart");
                }

                var scrollWidth = await page.EvaluateAsync<int>("() => document.documentElement.scrollWidth");
                Assert.True(scrollWidth <= viewport.Width, $"{path} is {scrollWidth} px wide on a {viewport.Width} px screen.");
                await Screenshot(page, $"{name}-{size}");
            }
        }

        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task TenantAdmin_SeesOnlyTheirOwnTenant_AndNoSuperAdminControls()
    {
        var acme = fixture.Demo["Acme Corp"].Id;
        var wayne = fixture.Demo["Wayne Ent"].Id;
        const string password = "acme-admin-password";
        await using (var scope = fixture.App.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<TollgateDbContext>();
            var admin = new Tollgate.Data.Admin { Username = "acme-admin", PasswordHash = "", Role = AdminRole.TenantAdmin, TenantId = acme, CreatedAt = DateTime.UtcNow };
            admin.PasswordHash = new PasswordHasher<Tollgate.Data.Admin>().HashPassword(admin, password);
            db.Admins.Add(admin);
            await db.SaveChangesAsync();
        }

        var page = await NewPageAsync(signedIn: false);
        await page.GotoAsync("/login");
        await page.GetByLabel("User name").FillAsync("acme-admin");
        await page.GetByLabel("Password").FillAsync(password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Log in" }).ClickAsync();

        await Expect(TenantRow(page, "Acme Corp")).ToBeVisibleAsync();
        await Expect(page.Locator("#rows tr")).ToHaveCountAsync(1);
        await Expect(page.Locator("#who-name")).ToHaveTextAsync("acme-admin · tenant admin");
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = "Setup" })).ToBeHiddenAsync();
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Add tenant" })).ToBeHiddenAsync();

        await page.GotoAsync($"/tenants/{acme}");
        await Expect(page.Locator("#tenant-name")).ToHaveTextAsync("Acme Corp");
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Create key" })).ToBeVisibleAsync();
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Change plan" })).ToBeHiddenAsync();
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Delete tenant" })).ToBeHiddenAsync();
        AssertNoConsoleErrors();

        await page.GotoAsync($"/tenants/{wayne}");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Tenant not found" })).ToBeVisibleAsync();
        await Expect(page.Locator("body")).Not.ToContainTextAsync("bruce@wayne.com");
        lock (_consoleErrors)
        {
            // The browser reports the API's 404 for the other tenant: that one is expected.
            _consoleErrors.RemoveAll(e => e.Contains("404", StringComparison.Ordinal));
        }

        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task UnknownTenantPage_SaysSo()
    {
        var page = await NewPageAsync();
        var consoleBefore = _consoleErrors.Count;
        await page.GotoAsync("/tenants/999999");

        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Tenant not found" })).ToBeVisibleAsync();
        // The one expected error: the browser reports the API's 404 for the tenant.
        _consoleErrors.RemoveAll(e => e.Contains("404", StringComparison.Ordinal));
        Assert.Equal(consoleBefore, _consoleErrors.Count);
    }

    /// <summary>
    /// A dashboard snapshot of <paramref name="count"/> made-up tenants: busier and fuller as the number grows, every
    /// tenth one at 85 % of its quota (Warning) and every hundredth one at 100 % (Blocked).
    /// </summary>
    /// <summary>A stream's first message for a page of <paramref name="count"/> made-up tenants.</summary>
    private static string PageJson(int count)
    {
        var tenants = Enumerable.Range(0, count).Select(i =>
        {
            var used = i % 100 == 20 ? 1_000 : i % 10 == 0 ? 850 : i % 700;
            var status = used >= 1_000 ? "Blocked" : used >= 800 ? "Warning" : "Normal";
            return new
            {
                id = 100_000 + i, name = $"Tenant {i:D5}", plan = i % 2 == 0 ? "Basic" : "Pro", used, limit = 1_000,
                remaining = 1_000 - used, status, requestsLastMinute = i, p95LatencyMs = 1.5 + i % 7, errorRate = i % 13 / 100.0,
                resetAt = "2030-01-01T00:00:00Z", tenantStatus = "Active",
            };
        });
        var totals = new { tenants = count, requestsLastMinute = 0, used = 0, errorRate = 0, normal = count, warning = 0, blocked = 0, suspended = 0 };
        return System.Text.Json.JsonSerializer.Serialize(new
        {
            generatedAt = DateTime.UtcNow, tenants, totals, matched = count, offset = 0, limit = 50, sort = "status", dir = "desc", sequence = 1,
        });
    }

    private async Task SendAsync(string apiKey, int requests)
    {
        using var client = fixture.TenantClient(apiKey);
        for (var i = 0; i < requests; i++)
        {
            await client.GetAsync(i % 3 == 0 ? "/api/v1/users" : "/api/v1/ping");
        }
    }

    private static ILocator TenantRow(IPage page, string name) => page.Locator("#rows tr", new() { Has = page.GetByRole(AriaRole.Link, new() { Name = name, Exact = true }) });

    private async Task<IPage> NewPageAsync(ViewportSize? viewport = null, bool signedIn = true)
    {
        var context = await fixture.Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = fixture.BaseUrl,
            ViewportSize = viewport ?? Desktop,
            AcceptDownloads = true,
        });
        _contexts.Add(context);
        context.SetDefaultTimeout(10_000);
        if (signedIn)
        {
            // The session cookie of this request is the context's: its pages are signed in.
            var response = await context.APIRequest.PostAsync("/api/auth/login", new()
            {
                DataObject = new { username = "admin", password = TollgateApp.AdminPassword },
            });
            Assert.True(response.Ok, $"Login answered {response.Status}.");
        }

        var page = await context.NewPageAsync();
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                lock (_consoleErrors)
                {
                    _consoleErrors.Add($"{page.Url}: {message.Text}");
                }
            }
        };
        page.PageError += (_, error) =>
        {
            lock (_consoleErrors)
            {
                _consoleErrors.Add($"{page.Url}: uncaught {error}");
            }
        };
        return page;
    }

    private void AssertNoConsoleErrors()
    {
        lock (_consoleErrors)
        {
            Assert.True(_consoleErrors.Count == 0, "Console errors:\n" + string.Join("\n", _consoleErrors));
        }
    }

    /// <summary>Presses Tab, or Shift+Tab, (at most 60 times) until the element matching the selector has the focus.</summary>
    private static async Task TabUntilAsync(IPage page, string selector, bool backwards = false)
    {
        for (var i = 0; i < 60; i++)
        {
            await page.Keyboard.PressAsync(backwards ? "Shift+Tab" : "Tab");
            if (await page.EvaluateAsync<bool>("s => document.activeElement?.matches(s) ?? false", selector))
            {
                return;
            }
        }

        Assert.Fail($"Tab never reached {selector}.");
    }

    /// <summary>A chart has drawn when its canvas has pixels that are not transparent.</summary>
    private static async Task AssertCanvasDrawnAsync(IPage page, string selector)
    {
        await Expect(page.Locator(selector)).ToBeVisibleAsync();
        var drawn = 0;
        for (var attempt = 0; attempt < 20 && drawn == 0; attempt++)
        {
            drawn = await page.EvaluateAsync<int>(
                """
                s => {
                  const canvas = document.querySelector(s);
                  if (!canvas.width || !canvas.height) return 0;
                  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
                  let painted = 0;
                  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;
                  return painted;
                }
                """, selector);
            if (drawn == 0)
            {
                await Task.Delay(250);
            }
        }

        Assert.True(drawn > 1_000, $"{selector} has {drawn} painted pixels.");
    }

    private static async Task Screenshot(IPage page, string name) =>
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotFolder, name + ".png"), FullPage = true });
}
