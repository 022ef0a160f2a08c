using Microsoft.EntityFrameworkCore;

namespace Tollgate.Data;

/// <summary>
/// The PostgreSQL flavour of the schema; its migrations live beside it, in <c>Migrations</c>.
/// </summary>
/// <remarks>
/// Every <see cref="DateTime"/> is a <c>timestamp with time zone</c> (Npgsql's mapping for UTC values): the column
/// holds an instant, so <c>now() - timestamp</c> and comparisons are right whatever the session's time zone, and
/// Npgsql refuses a non-UTC value instead of storing a local time by mistake. <c>timestamp without time zone</c>
/// would be the only other consistent choice, and would let a local time in unnoticed.
/// </remarks>
public sealed class PostgresTollgateDbContext : TollgateDbContext
{
    /// <summary>Creates the context.</summary>
    public PostgresTollgateDbContext(DbContextOptions<PostgresTollgateDbContext> options)
        : base(options)
    {
    }

    /// <inheritdoc />
    protected internal override bool IsUniqueViolation(Exception exception) =>
        exception is Npgsql.PostgresException { SqlState: Npgsql.PostgresErrorCodes.UniqueViolation };
}
