using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;

namespace Tollgate.Data;

/// <summary>
/// Recognizes a unique-index violation on every supported database. Checking for a duplicate name before inserting
/// leaves a window in which two concurrent creates both pass; the unique index then refuses the second, and this
/// turns that refusal into the 409 the first check would have answered.
/// </summary>
public static class UniqueViolation
{
    /// <summary>Whether <paramref name="exception"/> (or what it wraps) is a unique or primary key violation.</summary>
    public static bool Is(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                // SQLITE_CONSTRAINT_UNIQUE and SQLITE_CONSTRAINT_PRIMARYKEY.
                case SqliteException sqlite when sqlite.SqliteExtendedErrorCode is 2067 or 1555:
                case Npgsql.PostgresException postgres when postgres.SqlState == Npgsql.PostgresErrorCodes.UniqueViolation:
                // ER_DUP_ENTRY.
                case MySql.Data.MySqlClient.MySqlException mysql when mysql.Number == 1062:
                    return true;
            }
        }

        return false;
    }

    /// <summary>Whether the exception is an <see cref="DbUpdateException"/> caused by a unique violation.</summary>
    public static bool IsUpdate(Exception exception) => exception is DbUpdateException && Is(exception);
}
