using Microsoft.EntityFrameworkCore;

namespace Tollgate.Data;

/// <summary>The SQLite flavour of the schema; its migrations live in <c>Data/Migrations/Sqlite</c>.</summary>
public sealed class SqliteTollgateDbContext : TollgateDbContext
{
    /// <summary>Creates the context.</summary>
    public SqliteTollgateDbContext(DbContextOptions<SqliteTollgateDbContext> options)
        : base(options)
    {
    }
}
