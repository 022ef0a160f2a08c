using Microsoft.EntityFrameworkCore;

namespace Tollgate.Data;

/// <summary>
/// The MySQL and MariaDB flavour of the schema; its migrations live beside it, in <c>Migrations</c>.
/// </summary>
/// <remarks>
/// <para>
/// Times are <c>datetime(6)</c> holding UTC (the converter in <see cref="TollgateDbContext"/> makes them UTC on the
/// way in and says so on the way out); <c>timestamp</c> would convert through the session's time zone and ends in 2038.
/// </para>
/// <para>
/// Text compares as on SQLite and PostgreSQL, byte for byte (<see cref="Collation"/>): the first migration sets it as
/// the database's default, so that every table created by this and later migrations takes it. MySql.EntityFrameworkCore
/// ignores collations and character sets declared in the model, which is why it is not declared here.
/// </para>
/// </remarks>
public sealed class MySqlTollgateDbContext : TollgateDbContext
{
    /// <summary>
    /// The collation of every text column. <c>utf8mb4</c> holds any Unicode text; the binary collation makes
    /// <c>Acme</c> and <c>acme</c> two tenant names, and two users, as on the other databases, where a server's
    /// default (<c>utf8mb4_general_ci</c> and the like) would make them one. It exists on MySQL and MariaDB alike.
    /// </summary>
    public const string Collation = "utf8mb4_bin";

    /// <summary>Creates the context.</summary>
    public MySqlTollgateDbContext(DbContextOptions<MySqlTollgateDbContext> options)
        : base(options)
    {
    }

    /// <inheritdoc />
    protected internal override bool IsUniqueViolation(Exception exception) =>
        // ER_DUP_ENTRY.
        exception is MySql.Data.MySqlClient.MySqlException { Number: 1062 };
}
