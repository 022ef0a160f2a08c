using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Tollgate.Data;

/// <summary>Lets <c>dotnet ef migrations add … --project src/Tollgate.Storage.Sqlite</c> build the context without the host.</summary>
internal sealed class SqliteDesignTimeFactory : IDesignTimeDbContextFactory<SqliteTollgateDbContext>
{
    public SqliteTollgateDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<SqliteTollgateDbContext>()
            .UseSqlite(DataServiceCollectionExtensions.DefaultConnectionString)
            .UseSnakeCaseNamingConvention()
            .Options);
}
