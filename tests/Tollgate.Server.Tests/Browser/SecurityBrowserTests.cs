using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Tollgate.Testing;
using static Microsoft.Playwright.Assertions;

namespace Tollgate.Server.Tests.Browser;

/// <summary>
/// The admin side's security in a real browser: the redirect after login, a page on another origin trying a
/// state-changing request with the admin's cookie, and the scope a tenant admin and a viewer see.
/// </summary>
[Trait("Category", "Browser")]
public sealed class SecurityBrowserTests(BrowserFixture fixture) : IClassFixture<BrowserFixture>, IAsyncLifetime
{
    private readonly List<IBrowserContext> _contexts = [];
    private readonly List<string> _consoleErrors = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var context in _contexts)
        {
            await context.CloseAsync();
        }
    }

    [Theory]
    [InlineData("%2F%09%2Fevil.example")]
    [InlineData("%2F%0A%2Fevil.example")]
    [InlineData("%2F%5Cevil.example")]
    [InlineData("https%3A%2F%2Fevil.example%2F")]
    [InlineData("%2F%2Fevil.example")]
    public async Task AfterLogin_AReturnUrlOnAnotherHost_LeadsHome_NotAway(string returnUrl)
    {
        var page = await NewPageAsync(signedIn: false);
        await page.GotoAsync("/login?ReturnUrl=" + returnUrl);
        await LogInAsync(page, "admin", TollgateApp.AdminPassword);
        await Expect(page).ToHaveURLAsync(fixture.BaseUrl + "/");
    }

    [Fact]
    public async Task AfterLogin_AReturnUrlOnThisSite_IsFollowed()
    {
        var page = await NewPageAsync(signedIn: false);
        await page.GotoAsync("/login?ReturnUrl=%2Fplans%3Fx%3D1");
        await LogInAsync(page, "admin", TollgateApp.AdminPassword);
        await Expect(page).ToHaveURLAsync(fixture.BaseUrl + "/plans?x=1");
    }

    [Fact]
    public async Task APageOnAnotherPortOfTheSameHost_CannotCreateAKey_WithTheAdminsCookie()
    {
        var tenant = await fixture.CreateTenantAsync(quota: 1000);
        var page = await NewPageAsync(signedIn: true);
        var target = $"{fixture.BaseUrl}/api/admin/tenants/{tenant.Id}/keys";
        // The attacker's page, served by a real listener on another port of the same host: the admin's
        // SameSite=Strict cookie goes along with its requests (same site, another origin).
        using var attacker = new HttpListener();
        var attackerUrl = $"http://127.0.0.1:{FreePort.Next()}/";
        attacker.Prefixes.Add(attackerUrl);
        attacker.Start();
        _ = Task.Run(async () =>
        {
            try
            {
                while (attacker.IsListening)
                {
                    var context = await attacker.GetContextAsync();
                    context.Response.ContentType = "text/html";
                    await context.Response.OutputStream.WriteAsync("<!doctype html><title>attacker</title>"u8.ToArray());
                    context.Response.Close();
                }
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
            {
                // The listener stopped at the end of the test.
            }
        });
        await page.GotoAsync(attackerUrl + "attack.html");
        var outcomes = await page.EvaluateAsync<string[]>(
            """
            async (target) => {
              const attempts = [
                { method: 'POST', mode: 'no-cors', credentials: 'include' },
                { method: 'POST', mode: 'no-cors', credentials: 'include', body: '{"name":"csrf"}', headers: { 'content-type': 'text/plain' } },
                { method: 'POST', mode: 'cors', credentials: 'include', body: '{"name":"csrf"}', headers: { 'content-type': 'application/json' } },
              ];
              const results = [];
              for (const init of attempts) {
                try { const r = await fetch(target, init); results.push(String(r.status)); } catch (e) { results.push('blocked'); }
              }
              return results;
            }
            """, target);
        Assert.Equal(3, outcomes.Length);

        using var admin = await fixture.AdminClientAsync();
        var keys = await admin.GetFromJsonAsync<List<KeyRow>>($"/api/admin/tenants/{tenant.Id}/keys");
        Assert.Single(keys!);
    }

    [Fact]
    public async Task ATenantAdminAndAViewer_CreatedOnTheAdminsPage_LogIn_AndSeeExactlyTheirScope()
    {
        var acme = fixture.Demo["Acme Corp"].Id;
        var page = await NewPageAsync(signedIn: true);
        await page.GotoAsync("/admins");

        // A tenant admin with a generated password, shown once.
        var taName = "acme-ta-" + Guid.NewGuid().ToString("N")[..6];
        await page.Locator("#admin-form [name=username]").FillAsync(taName);
        await page.Locator("#admin-form [name=role]").SelectOptionAsync("TenantAdmin");
        await page.Locator("#admin-form [name=tenantId]").SelectOptionAsync(new SelectOptionValue { Label = "Acme Corp" });
        await page.GetByRole(AriaRole.Button, new() { Name = "Create admin" }).ClickAsync();
        var generated = await page.Locator("#generated-password").TextContentAsync();
        Assert.False(string.IsNullOrEmpty(generated));
        await Expect(page.Locator("#admins")).ToContainTextAsync(taName);

        // A viewer of every tenant with a chosen password.
        var viewerName = "viewer-" + Guid.NewGuid().ToString("N")[..6];
        await page.Locator("#admin-form [name=username]").FillAsync(viewerName);
        await page.Locator("#admin-form [name=role]").SelectOptionAsync("Viewer");
        await page.Locator("#admin-form [name=password]").FillAsync("viewer-password-123");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create admin" }).ClickAsync();
        await Expect(page.Locator("#admins")).ToContainTextAsync(viewerName);

        var ta = await NewPageAsync(signedIn: false);
        await ta.GotoAsync("/login");
        await LogInAsync(ta, taName, generated!);
        await Expect(ta.Locator("#who-name")).ToHaveTextAsync($"{taName} · tenant admin");
        await Expect(ta.Locator("#rows tr")).ToHaveCountAsync(1);
        await Expect(ta.Locator("#rows")).ToContainTextAsync("Acme Corp");
        await Expect(ta.GetByRole(AriaRole.Link, new() { Name = "Admins" })).ToBeHiddenAsync();
        await ta.GotoAsync($"/tenants/{acme}");
        await Expect(ta.GetByRole(AriaRole.Button, new() { Name = "Create key" })).ToBeVisibleAsync();

        var viewer = await NewPageAsync(signedIn: false);
        await viewer.GotoAsync("/login");
        await LogInAsync(viewer, viewerName, "viewer-password-123");
        await Expect(viewer.Locator("#who-name")).ToHaveTextAsync($"{viewerName} · viewer");
        await Expect(viewer.Locator("#rows")).ToContainTextAsync("Acme Corp");
        await Expect(viewer.Locator("#rows")).ToContainTextAsync("Wayne Ent");
        await Expect(viewer.GetByRole(AriaRole.Button, new() { Name = "Add tenant" })).ToBeHiddenAsync();
        await viewer.GotoAsync($"/tenants/{acme}");
        await Expect(viewer.Locator("#tenant-name")).ToHaveTextAsync("Acme Corp");
        await Expect(viewer.Locator("#keys tr").First).ToBeVisibleAsync();
        await Expect(viewer.GetByRole(AriaRole.Button, new() { Name = "Create key" })).ToBeHiddenAsync();
        await Expect(viewer.GetByRole(AriaRole.Button, new() { NameRegex = new Regex("^(Revoke|Rotate) key") })).ToHaveCountAsync(0);
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task RotatingAKeyOnTheTenantPage_ShowsTheNewKeyOnce_AndTheOldOneKeepsWorkingForTheGrace()
    {
        var tenant = await fixture.CreateTenantAsync(quota: 1000);
        var page = await NewPageAsync(signedIn: true);
        await page.GotoAsync($"/tenants/{tenant.Id}");
        await page.GetByLabel("On rotation, the old key works for").SelectOptionAsync("86400");
        await page.GetByRole(AriaRole.Button, new() { NameRegex = new Regex("^Rotate key test") }).ClickAsync();
        await page.GetByRole(AriaRole.Dialog).GetByRole(AriaRole.Button, new() { Name = "Rotate key" }).ClickAsync();
        var newKey = await page.Locator("#new-key-value").InputValueAsync();
        Assert.StartsWith("tg_", newKey, StringComparison.Ordinal);
        await Expect(page.Locator("#keys tr")).ToHaveCountAsync(2);

        using var old = fixture.TenantClient(tenant.ApiKey);
        using var fresh = fixture.TenantClient(newKey);
        Assert.True((await old.GetAsync("/api/v1/ping")).IsSuccessStatusCode);
        Assert.True((await fresh.GetAsync("/api/v1/ping")).IsSuccessStatusCode);
        AssertNoConsoleErrors();
    }

    private static async Task LogInAsync(IPage page, string username, string password)
    {
        await page.GetByLabel("User name").FillAsync(username);
        await page.GetByLabel("Password").FillAsync(password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Log in" }).ClickAsync();
    }

    private async Task<IPage> NewPageAsync(bool signedIn)
    {
        var context = await fixture.Browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = fixture.BaseUrl });
        _contexts.Add(context);
        context.SetDefaultTimeout(10_000);
        if (signedIn)
        {
            var response = await context.APIRequest.PostAsync("/api/auth/login", new()
            {
                DataObject = new { username = "admin", password = TollgateApp.AdminPassword },
            });
            Assert.True(response.Ok, $"Login answered {response.Status}.");
        }

        var page = await context.NewPageAsync();
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
            Assert.True(_consoleErrors.Count == 0, "Errors:\n" + string.Join("\n", _consoleErrors));
        }
    }

    private sealed record KeyRow(long Id, string Name);
}
