using System.Globalization;
using Microsoft.Data.Sqlite;
using Tollgate.Data;

namespace Tollgate.Usage;

/// <summary>
/// SQLite's side of the retention clean-up: a batch deleted by rowids picked through the time column's index (the
/// bundled SQLite, 3.53, is built without <c>SQLITE_ENABLE_UPDATE_DELETE_LIMIT</c>, so <c>DELETE … LIMIT</c> does not
/// parse), and freed pages given back to the file system by incremental vacuum in small steps.
/// </summary>
/// <remarks>
/// Measured (Python's sqlite3, SQLite 3.40, on the shared 2-core machine) on a file of 3,000,000 <c>usage_logs</c> rows
/// (343 MB) with <c>auto_vacuum=INCREMENTAL</c>, after deleting half of them: 41,530 free pages, given back in 163 steps
/// of 256 pages, 8 ms median each (2 s in all), and the file went to 173 MB. Steps of 4,096 pages took 160 ms each, too
/// long to hold the write lock. A file without auto-vacuum keeps its size but reuses the free pages: 1,000,000 new rows
/// then took no new space.
/// </remarks>
internal sealed partial class SqliteUsageRetentionStore(DatabaseDescription database, ILogger<SqliteUsageRetentionStore> logger)
    : IUsageRetentionStore
{
    /// <summary>Pages per incremental vacuum step (1 MiB): each step holds the write lock for a few milliseconds.</summary>
    private const int VacuumStepPages = 256;

    /// <summary>Between steps the usage writer gets the lock (its busy handler retries within milliseconds).</summary>
    private static readonly TimeSpan VacuumStepPause = TimeSpan.FromMilliseconds(10);

    private const long AutoVacuumNone = 0;
    private const long AutoVacuumIncremental = 2;

    private int _toldAboutVacuum;

    public async Task<int> DeleteBeforeAsync(string table, string timeColumn, DateTime cutoff, int limit, CancellationToken cancellationToken)
    {
        // The subquery reads the rowids from the time column's index (which holds them), so only old rows are visited.
        var sql = $"DELETE FROM \"{table}\" WHERE rowid IN (SELECT rowid FROM \"{table}\" WHERE \"{timeColumn}\" < @cutoff " +
            $"ORDER BY \"{timeColumn}\" LIMIT {limit.ToString(CultureInfo.InvariantCulture)})";
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        // A DateTime binds as the text EF Core stores (yyyy-MM-dd HH:mm:ss.FFFFFFF), so the text comparison is a time comparison.
        command.Parameters.AddWithValue("@cutoff", cutoff);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task ReclaimSpaceAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var mode = await ScalarAsync(connection, "PRAGMA auto_vacuum", cancellationToken);
        if (mode == AutoVacuumNone)
        {
            // Files made before Tollgate turned auto-vacuum on: freed pages are reused for new rows, but the file never
            // shrinks. Said once per process; converting takes a VACUUM, which rewrites the file (docs/databases.md).
            if (Interlocked.Exchange(ref _toldAboutVacuum, 1) == 0)
            {
                LogVacuumHint(logger, new SqliteConnectionStringBuilder(database.ConnectionString).DataSource);
            }

            return;
        }

        if (mode != AutoVacuumIncremental)
        {
            return; // FULL: SQLite gives pages back at every commit by itself
        }

        while (await ScalarAsync(connection, "PRAGMA freelist_count", cancellationToken) > 0)
        {
            await using (var step = connection.CreateCommand())
            {
                step.CommandText = $"PRAGMA incremental_vacuum({VacuumStepPages.ToString(CultureInfo.InvariantCulture)})";
                await step.ExecuteNonQueryAsync(cancellationToken);
            }

            await Task.Delay(VacuumStepPause, cancellationToken);
        }
    }

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(SqliteConnectionTuning.Tune(database.ConnectionString));
        try
        {
            await connection.OpenAsync(cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    private static async Task<long> ScalarAsync(SqliteConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
    }

    [LoggerMessage(Level = LogLevel.Information,
        Message = "The SQLite file {File} was created without auto-vacuum: space freed by retention is reused but never given back to the disk. A one-off 'PRAGMA auto_vacuum=INCREMENTAL; VACUUM;' with Tollgate stopped enables it (see docs/databases.md)")]
    private static partial void LogVacuumHint(ILogger logger, string file);
}
