using Microsoft.Data.Sqlite;

namespace Tollgate.Data;

/// <summary>Connection settings that make SQLite fit a server with one background writer.</summary>
internal static class SqliteConnectionTuning
{
    /// <summary>Adds a pool and a busy timeout unless the user set them.</summary>
    public static string Tune(string connectionString)
    {
        var builder = new SqliteConnectionStringBuilder(connectionString);
        // Admin writes and the usage writer share one file; wait for the lock rather than fail with SQLITE_BUSY.
        if (builder.DefaultTimeout == 30)
        {
            builder.DefaultTimeout = 60;
        }

        builder.Pooling = true;
        return builder.ToString();
    }
}
