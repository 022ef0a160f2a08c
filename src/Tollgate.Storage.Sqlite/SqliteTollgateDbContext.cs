using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;

namespace Tollgate.Data;

/// <summary>The SQLite flavour of the schema; its migrations live beside it, in <c>Migrations</c>.</summary>
public sealed class SqliteTollgateDbContext : TollgateDbContext
{
    /// <summary>Creates the context.</summary>
    public SqliteTollgateDbContext(DbContextOptions<SqliteTollgateDbContext> options)
        : base(options)
    {
    }

    /// <inheritdoc />
    protected internal override bool IsUniqueViolation(Exception exception) =>
        // SQLITE_CONSTRAINT_UNIQUE and SQLITE_CONSTRAINT_PRIMARYKEY.
        exception is SqliteException { SqliteExtendedErrorCode: 2067 or 1555 };

    /// <inheritdoc />
    protected internal override async Task PrepareDatabaseAsync(CancellationToken cancellationToken)
    {
        var builder = new SqliteConnectionStringBuilder(Database.GetConnectionString());
        var directory = Path.GetDirectoryName(Path.GetFullPath(builder.DataSource));
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        await Database.OpenConnectionAsync(cancellationToken);
        try
        {
            // A new file gives the pages that retention frees back to the disk when asked (PRAGMA incremental_vacuum,
            // see SqliteUsageRetentionStore). The mode can only be chosen before the first table exists, and only this
            // connection holds it until the file's header is written: so it goes first, and the WAL switch below writes
            // the header with it. An existing file keeps the mode it has.
            await using (var tables = Database.GetDbConnection().CreateCommand())
            {
                tables.CommandText = "SELECT count(*) FROM sqlite_master";
                if (Convert.ToInt64(await tables.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture) == 0)
                {
                    await Database.ExecuteSqlRawAsync("PRAGMA auto_vacuum=INCREMENTAL;", cancellationToken);
                }
            }

            // WAL lets the dashboard read while the usage writer writes; it is a property of the file, set once.
            await Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", cancellationToken);
        }
        finally
        {
            await Database.CloseConnectionAsync();
        }
    }
}
