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

        // WAL lets the dashboard read while the usage writer writes; it is a property of the file, set once.
        await Database.OpenConnectionAsync(cancellationToken);
        try
        {
            await Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", cancellationToken);
        }
        finally
        {
            await Database.CloseConnectionAsync();
        }
    }
}
