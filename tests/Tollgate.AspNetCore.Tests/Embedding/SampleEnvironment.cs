using Tollgate.Data;
using Tollgate.Testing;

namespace Tollgate.AspNetCore.Tests.Embedding;

/// <summary>
/// One system of two processes: the Tollgate server (hosted in this test process) and the sample orders API built from
/// the packed packages (a process of its own), on one fresh PostgreSQL database and one real Redis server.
/// Started once for the test class; everything is stopped and deleted whatever happens.
/// </summary>
public sealed class SampleEnvironment : IAsyncLifetime
{
    private SampleBuild? _build;
    private SampleProcess? _sample;
    private ProcessWatchdog? _redisWatchdog;

    /// <summary>The Redis server both processes share.</summary>
    public RedisServer Redis { get; private set; } = null!;

    /// <summary>The Tollgate server, where tenants, keys and plans are managed.</summary>
    public TollgateApp Server { get; private set; } = null!;

    /// <summary>Where the sample listens.</summary>
    public Uri SampleAddress => _sample!.Address;

    /// <summary>How long packing and publishing took.</summary>
    public string BuildTimes => $"pack {_build!.PackTime.TotalSeconds:F1} s, publish {_build.PublishTime.TotalSeconds:F1} s";

    public async Task InitializeAsync()
    {
        _build = await SampleBuild.CreateAsync();
        Redis = await RedisServer.StartAsync();
        _redisWatchdog = await WatchAsync(Redis);
        Server = new TollgateApp(DatabaseProvider.Postgres, settings: new Dictionary<string, string?> { ["Tollgate:Redis"] = Redis.Configuration });
        _ = Server.Server; // Migrates the database before the sample starts on it.
        _sample = await SampleProcess.StartListeningAsync(_build.AppDll, _build.Work, SampleSettings());
    }

    /// <summary>
    /// The configuration a team would give the sample to join this server: the same database and Redis, by the keys of
    /// CONTRACT §1; <paramref name="changes"/> replace or add keys.
    /// </summary>
    public Dictionary<string, string> SampleSettings(IReadOnlyDictionary<string, string>? changes = null)
    {
        var settings = new Dictionary<string, string>
        {
            ["Tollgate:Database:Provider"] = "Postgres",
            ["ConnectionStrings:Tollgate"] = Server.Database.ConnectionString,
            ["Tollgate:Redis"] = Redis.Configuration,
            // A spool of its own: two processes never share one.
            ["Tollgate:Usage:SpoolPath"] = Path.Combine(_build!.Work, "spool-" + Guid.NewGuid().ToString("N")[..8]),
        };
        foreach (var (key, value) in changes ?? new Dictionary<string, string>())
        {
            settings[key] = value;
        }

        return settings;
    }

    /// <summary>Starts another sample process on the same build, without waiting for it to listen.</summary>
    internal SampleProcess StartSample(IReadOnlyDictionary<string, string> settings) =>
        SampleProcess.Start(_build!.AppDll, _build.Work, settings);

    /// <summary>Starts another sample process on the same build and waits until it listens.</summary>
    internal Task<SampleProcess> StartListeningSampleAsync(IReadOnlyDictionary<string, string> settings) =>
        SampleProcess.StartListeningAsync(_build!.AppDll, _build.Work, settings);

    /// <summary>A client of the sample (or of <paramref name="sample"/>) that sends <paramref name="apiKey"/>.</summary>
    internal HttpClient SampleClient(string apiKey, SampleProcess? sample = null)
    {
        var client = new HttpClient { BaseAddress = sample?.Address ?? SampleAddress, Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Add("X-API-KEY", apiKey);
        return client;
    }

    /// <summary>
    /// RedisServer stops its server when disposed, not when the test process is killed; the sample's processes and
    /// folders have watchdogs, and so does this Redis, found by the pid and folder it reports itself.
    /// </summary>
    private static async Task<ProcessWatchdog> WatchAsync(RedisServer redis)
    {
        var info = await redis.CliAsync("INFO", "server");
        var pid = int.Parse(
            info.Split('\n').Single(l => l.StartsWith("process_id:", StringComparison.Ordinal))["process_id:".Length..].Trim(),
            System.Globalization.CultureInfo.InvariantCulture);
        var folder = (await redis.CliAsync("CONFIG", "GET", "dir")).Split('\n').Last().Trim();
        return ProcessWatchdog.KillWhenDone(pid, folder);
    }

    public async Task DisposeAsync()
    {
        // Each part is stopped even when the one before failed to: no process and no folder outlives the class.
        try
        {
            if (_sample is not null)
            {
                await _sample.DisposeAsync();
            }
        }
        finally
        {
            try
            {
                if (Server is not null)
                {
                    await Server.DisposeAsync();
                }
            }
            finally
            {
                try
                {
                    if (Redis is not null)
                    {
                        await Redis.DisposeAsync();
                    }
                }
                finally
                {
                    _redisWatchdog?.Dispose();
                    _build?.Dispose();
                }
            }
        }
    }
}
