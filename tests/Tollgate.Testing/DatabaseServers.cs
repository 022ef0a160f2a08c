using Tollgate.Data;

namespace Tollgate.Testing;

/// <summary>
/// The PostgreSQL and MariaDB servers of this test process: each started on first use and shared by every test
/// (each test app gets a database of its own), stopped and deleted when the process exits. A server that cannot be
/// started fails every test that needs it, with the reason and how to install it: these tests are never skipped.
/// </summary>
public static class DatabaseServers
{
    private static readonly Lazy<PostgresServer> Postgres = new(() => Track(PostgresServer.StartNew()));
    private static readonly Lazy<MariaDbServer> MariaDb = new(() => Track(MariaDbServer.StartNew()));
    private static readonly List<DatabaseServer> Started = [];

    /// <summary>The running server of <paramref name="provider"/>, started now if it is the first use.</summary>
    public static DatabaseServer For(DatabaseProvider provider) => provider switch
    {
        DatabaseProvider.Postgres => Postgres.Value,
        DatabaseProvider.MySql => MariaDb.Value,
        _ => throw new ArgumentOutOfRangeException(nameof(provider), provider, "SQLite needs no server."),
    };

    private static T Track<T>(T server)
        where T : DatabaseServer
    {
        lock (Started)
        {
            if (Started.Count == 0)
            {
                AppDomain.CurrentDomain.ProcessExit += (_, _) => StopAll();
            }

            Started.Add(server);
        }

        return server;
    }

    private static void StopAll()
    {
        lock (Started)
        {
            // Both at once: the test runner gives the process little time to exit.
            Parallel.ForEach(Started, server => server.Dispose());

            Started.Clear();
        }
    }
}
