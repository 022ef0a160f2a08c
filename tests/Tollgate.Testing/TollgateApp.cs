using System.Net.Http.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Tollgate.Data;

namespace Tollgate.Testing;

/// <summary>
/// Tollgate hosted in-process on a real database of its own: a SQLite file by default (or the provider named by
/// <c>TOLLGATE_TEST_DATABASE</c>), or a fresh database on a throw-away PostgreSQL or MariaDB server. Several apps may
/// share one database to test restarts: pass the first app's <see cref="Database"/> (or, on SQLite, its
/// <see cref="DatabasePath"/>).
/// </summary>
public sealed class TollgateApp : WebApplicationFactory<Program>
{
    public const string AdminPassword = "test-admin-password";

    private readonly Dictionary<string, string?> _settings;
    private readonly Action<IServiceCollection>? _configureServices;

    /// <summary>An app on the SQLite file at <paramref name="databasePath"/>, or on a new database of the default provider.</summary>
    public TollgateApp(
        string? databasePath = null,
        FakeTimeProvider? time = null,
        IDictionary<string, string?>? settings = null,
        Action<IServiceCollection>? configureServices = null)
        : this(
            databasePath is null ? AppDatabase.Create(AppDatabase.DefaultProvider) : AppDatabase.ForSqliteFile(databasePath),
            time, settings, configureServices)
    {
    }

    /// <summary>An app on a new, empty database of <paramref name="provider"/>.</summary>
    public TollgateApp(
        DatabaseProvider provider,
        FakeTimeProvider? time = null,
        IDictionary<string, string?>? settings = null,
        Action<IServiceCollection>? configureServices = null)
        : this(AppDatabase.Create(provider), time, settings, configureServices)
    {
    }

    /// <summary>An app on an existing database, e.g. the one of an app that was stopped.</summary>
    public TollgateApp(
        AppDatabase database,
        FakeTimeProvider? time = null,
        IDictionary<string, string?>? settings = null,
        Action<IServiceCollection>? configureServices = null)
    {
        ArgumentNullException.ThrowIfNull(database);
        _configureServices = configureServices;
        Database = database;
        Time = time;
        _settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Tollgate"] = database.ConnectionString,
            ["Tollgate:Database:Provider"] = database.Provider.ToString(),
            ["Tollgate:Admin:Password"] = AdminPassword,
            ["Tollgate:Usage:SpoolPath"] = database.SpoolPath,
            // Retention keeps every row unless a test asks for less (Tollgate.Storage.Tests' RetentionTests): rows
            // written at fixed dates, and fake clocks moved on by weeks, must not meet a clean-up the test is not about.
            ["Tollgate:Retention:UsageLogs"] = "36500.00:00:00",
            ["Tollgate:Retention:MinuteRollups"] = "36500.00:00:00",
            ["Tollgate:Retention:HourRollups"] = "36500.00:00:00",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            _settings[key] = value;
        }
    }

    /// <summary>The app's database, for direct reads and for a second app on the same data.</summary>
    public AppDatabase Database { get; }

    /// <summary>The SQLite file of the app; an app on a server database has none (use <see cref="Database"/>).</summary>
    public string DatabasePath => Database.SqlitePath
        ?? throw new InvalidOperationException($"This app runs on {Database.Provider}, which has no file; use Database instead of DatabasePath.");

    public FakeTimeProvider? Time { get; }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }

        builder.ConfigureTestServices(services =>
        {
            if (Time is not null)
            {
                services.AddSingleton<TimeProvider>(Time);
            }

            _configureServices?.Invoke(services);
        });
    }

    /// <summary>The real listener's address once <see cref="StartOnKestrel"/> ran; the clients below then use it.</summary>
    public Uri? KestrelAddress { get; private set; }

    /// <summary>Serves on a real Kestrel port on loopback (for clients outside the process: a browser, Prometheus).</summary>
    public Uri StartOnKestrel()
    {
        UseKestrel(0);
        StartServer();
        var address = Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
            .Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses.First();
        KestrelAddress = new Uri($"http://127.0.0.1:{new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal)).Port}");
        return KestrelAddress;
    }

    /// <summary>A client with a super admin session.</summary>
    public async Task<HttpClient> AdminClientAsync()
    {
        var client = NewClient(handleCookies: true);
        var response = await client.PostAsJsonAsync("/api/auth/login", new { username = "admin", password = AdminPassword });
        response.EnsureSuccessStatusCode();
        return client;
    }

    /// <summary>A client logged in as <paramref name="username"/>.</summary>
    public async Task<HttpClient> LoginAsync(string username, string password)
    {
        var client = CreateClient(new WebApplicationFactoryClientOptions { HandleCookies = true, AllowAutoRedirect = false });
        var response = await client.PostAsJsonAsync("/api/auth/login", new { username, password });
        response.EnsureSuccessStatusCode();
        return client;
    }

    /// <summary>Creates an admin through the admins API and answers a client logged in as it.</summary>
    public async Task<HttpClient> AdminClientAsync(string role, long? tenantId, string? username = null)
    {
        username ??= role.ToLowerInvariant() + "-" + Guid.NewGuid().ToString("N")[..8];
        const string password = "a-long-enough-password";
        using (var admin = await AdminClientAsync())
        {
            (await admin.PostAsJsonAsync("/api/admin/admins", new { username, role, tenantId, password })).EnsureSuccessStatusCode();
        }

        return await LoginAsync(username, password);
    }

    /// <summary>A client that sends a tenant's API key.</summary>
    public HttpClient TenantClient(string apiKey)
    {
        var client = NewClient(handleCookies: false);
        client.DefaultRequestHeaders.Add("X-API-KEY", apiKey);
        return client;
    }

    /// <summary>Creates a plan, a tenant on it and a key, through the admin API.</summary>
    public async Task<TestTenant> CreateTenantAsync(long quota, string period = "Month", object? rate = null, string? name = null)
    {
        using var admin = await AdminClientAsync();
        name ??= "T-" + Guid.NewGuid().ToString("N")[..10];
        var planResponse = await admin.PostAsJsonAsync("/api/admin/plans", new { name = "plan-" + name, quota = new { limit = quota, period }, rate });
        planResponse.EnsureSuccessStatusCode();
        var plan = await planResponse.Content.ReadFromJsonAsync<IdDto>();
        var tenantResponse = await admin.PostAsJsonAsync("/api/admin/tenants", new { name, planId = plan!.Id });
        tenantResponse.EnsureSuccessStatusCode();
        var tenant = await tenantResponse.Content.ReadFromJsonAsync<IdDto>();
        var keyResponse = await admin.PostAsJsonAsync($"/api/admin/tenants/{tenant!.Id}/keys", new { name = "test" });
        keyResponse.EnsureSuccessStatusCode();
        var key = await keyResponse.Content.ReadFromJsonAsync<KeyDto>();
        return new TestTenant(tenant.Id, name, plan.Id, key!.Id, key.Key);
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        Database.ReleaseConnections();
        GC.SuppressFinalize(this);
    }

    private HttpClient NewClient(bool handleCookies) => KestrelAddress is { } address
        ? new HttpClient(new HttpClientHandler { UseCookies = handleCookies, AllowAutoRedirect = false }) { BaseAddress = address }
        : CreateClient(new WebApplicationFactoryClientOptions { HandleCookies = handleCookies, AllowAutoRedirect = false });

    private sealed record IdDto(long Id);

    private sealed record KeyDto(long Id, string Key);
}

public sealed record TestTenant(long Id, string Name, long PlanId, long KeyId, string ApiKey);
