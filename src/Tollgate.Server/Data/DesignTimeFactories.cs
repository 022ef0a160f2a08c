using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Tollgate.Data;

/// <summary>Lets <c>dotnet ef migrations add … --context SqliteTollgateDbContext</c> build the context without the host.</summary>
internal sealed class SqliteDesignTimeFactory : IDesignTimeDbContextFactory<SqliteTollgateDbContext>
{
    public SqliteTollgateDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<SqliteTollgateDbContext>()
            .UseSqlite(DataServiceCollectionExtensions.DefaultConnectionString)
            .UseSnakeCaseNamingConvention()
            .Options);
}

/// <summary>
/// Lets <c>dotnet ef migrations add … --context PostgresTollgateDbContext</c> build the context without the host.
/// Adding a migration never connects, so the connection string only has to parse.
/// </summary>
internal sealed class PostgresDesignTimeFactory : IDesignTimeDbContextFactory<PostgresTollgateDbContext>
{
    public PostgresTollgateDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<PostgresTollgateDbContext>()
            .UseNpgsql("Host=localhost;Database=tollgate")
            .UseSnakeCaseNamingConvention()
            .Options);
}

/// <summary>
/// Lets <c>dotnet ef migrations add … --context MySqlTollgateDbContext</c> build the context without the host.
/// Adding a migration never connects, so the connection string only has to parse.
/// </summary>
internal sealed class MySqlDesignTimeFactory : IDesignTimeDbContextFactory<MySqlTollgateDbContext>
{
    public MySqlTollgateDbContext CreateDbContext(string[] args)
    {
        var options = new DbContextOptionsBuilder<MySqlTollgateDbContext>();
        options.UseTollgateMySql("Server=localhost;Database=tollgate");
        return new MySqlTollgateDbContext(options.Options);
    }
}
