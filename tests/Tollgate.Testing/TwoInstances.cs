namespace Tollgate.Testing;

/// <summary>Two Tollgate hosts, each with its own memory, sharing one database and one real Redis server.</summary>
public sealed class TwoInstances : IAsyncDisposable
{
    /// <summary>
    /// The test classes that start two instances and a redis-server run one after another: the recovery tests time
    /// Redis's return (a 250 ms probe), which another class's pair of instances under load can starve on two cores.
    /// xunit reads a collection's definition from the test assembly only: each project that uses this one declares
    /// <c>[CollectionDefinition(TwoInstances.Collection)]</c> itself.
    /// </summary>
    public const string Collection = "Two instances sharing Redis";

    private TwoInstances(RedisServer redis, TollgateApp a, TollgateApp b)
    {
        Redis = redis;
        A = a;
        B = b;
    }

    public RedisServer Redis { get; }

    public TollgateApp A { get; }

    public TollgateApp B { get; }

    public static async Task<TwoInstances> StartAsync(string failureMode = "Open")
    {
        var redis = await RedisServer.StartAsync();
        var settings = new Dictionary<string, string?>
        {
            ["Tollgate:Redis"] = redis.Configuration,
            ["Tollgate:RedisFailureMode"] = failureMode,
        };
        var a = new TollgateApp(settings: settings);
        _ = a.Server; // Migrates and seeds before the second instance starts.
        var b = new TollgateApp(a.Database, settings: settings);
        _ = b.Server;
        return new TwoInstances(redis, a, b);
    }

    public async ValueTask DisposeAsync()
    {
        // Redis is stopped whatever happens to the apps' shutdown: the test run must leave no server behind.
        try
        {
            await A.DisposeAsync();
        }
        finally
        {
            try
            {
                await B.DisposeAsync();
            }
            finally
            {
                await Redis.DisposeAsync();
            }
        }
    }
}
