using System.Net.Http.Json;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Tollgate.Testing;

namespace Tollgate.Server.Tests.Browser;

/// <summary>
/// One Tollgate on a real Kestrel port (pages need a real listener: a browser cannot reach a TestServer) with the
/// demo data, and one headless Debian Chromium driven by Playwright, shared by the browser tests of a class.
/// Playwright never downloads a browser here: it is pointed at /usr/bin/chromium.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";

    private IPlaywright? _playwright;

    /// <summary>The demo app with the default settings (xunit builds class fixtures with their one public constructor).</summary>
    public BrowserFixture()
        : this(null)
    {
    }

    /// <summary>
    /// The demo app with <paramref name="settings"/> on top of the defaults, for a class whose fixture needs a setting
    /// (the webhook page's tests let webhooks reach a receiver on loopback). Not public: xunit refuses a class fixture
    /// with two public constructors.
    /// </summary>
    internal BrowserFixture(IDictionary<string, string?>? settings) => App = new TollgateApp(settings: settings);

    public TollgateApp App { get; }

    public string BaseUrl { get; private set; } = "";

    public IBrowser Browser { get; private set; } = null!;

    /// <summary>The demo tenants by name, with the keys the setup call made for them.</summary>
    public IReadOnlyDictionary<string, (long Id, string ApiKey)> Demo { get; private set; } = new Dictionary<string, (long, string)>();

    /// <summary>Where the screenshots go: beside the test assembly, so they are part of the test output.</summary>
    public static string ScreenshotFolder { get; } = Path.Combine(AppContext.BaseDirectory, "screenshots");

    public async Task InitializeAsync()
    {
        if (!File.Exists(ChromiumPath))
        {
            throw new InvalidOperationException(
                $"The browser tests drive Debian's Chromium at {ChromiumPath}, which is missing. " +
                "Run ./test.sh (it installs it), or: apt-get install -y chromium.");
        }

        App.UseKestrel(0);
        App.StartServer();
        var addresses = App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        BaseUrl = addresses.First().Replace("[::]", "127.0.0.1", StringComparison.Ordinal).Replace("localhost", "127.0.0.1", StringComparison.Ordinal).TrimEnd('/');

        using (var admin = await AdminClientAsync())
        {
            var response = await admin.PostAsJsonAsync("/api/admin/setup", new { reset = false, historyDays = 3 });
            response.EnsureSuccessStatusCode();
            var body = await response.Content.ReadFromJsonAsync<SetupBody>();
            Demo = body!.Tenants.ToDictionary(t => t.Name, t => (t.Id, t.ApiKey!));
        }

        Directory.CreateDirectory(ScreenshotFolder);
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args =
            [
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-quic",
            ],
        });
    }

    /// <summary>
    /// A client of the real listener with a super admin session. (TollgateApp's own helpers aim at the in-memory
    /// test server's address, which does not answer once the factory runs Kestrel.)
    /// </summary>
    public async Task<HttpClient> AdminClientAsync()
    {
        var client = new HttpClient(new HttpClientHandler { UseCookies = true, AllowAutoRedirect = false }) { BaseAddress = new Uri(BaseUrl) };
        var response = await client.PostAsJsonAsync("/api/auth/login", new { username = "admin", password = TollgateApp.AdminPassword });
        response.EnsureSuccessStatusCode();
        return client;
    }

    /// <summary>A client of the real listener that sends a tenant's API key.</summary>
    public HttpClient TenantClient(string apiKey)
    {
        var client = new HttpClient { BaseAddress = new Uri(BaseUrl) };
        client.DefaultRequestHeaders.Add("X-API-KEY", apiKey);
        return client;
    }

    /// <summary>Creates a plan with the quota, a tenant on it and a key, through the admin API.</summary>
    public async Task<TestTenant> CreateTenantAsync(long quota, string period = "Month", string? name = null)
    {
        using var admin = await AdminClientAsync();
        name ??= "Browser " + Guid.NewGuid().ToString("N")[..8];
        var plan = await ReadIdAsync(await admin.PostAsJsonAsync("/api/admin/plans", new { name = "plan " + name, quota = new { limit = quota, period } }));
        var tenant = await ReadIdAsync(await admin.PostAsJsonAsync("/api/admin/tenants", new { name, planId = plan.Id }));
        var keyResponse = await admin.PostAsJsonAsync($"/api/admin/tenants/{tenant.Id}/keys", new { name = "test" });
        keyResponse.EnsureSuccessStatusCode();
        var key = await keyResponse.Content.ReadFromJsonAsync<CreatedKey>();
        return new TestTenant(tenant.Id, name, plan.Id, key!.Id, key.Key);
    }

    private static async Task<IdBody> ReadIdAsync(HttpResponseMessage response)
    {
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<IdBody>())!;
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }

        _playwright?.Dispose();
        await App.DisposeAsync();
    }

    private sealed record SetupBody(List<SetupTenant> Tenants);

    private sealed record SetupTenant(long Id, string Name, string? ApiKey);

    private sealed record IdBody(long Id);

    private sealed record CreatedKey(long Id, string Key);
}
