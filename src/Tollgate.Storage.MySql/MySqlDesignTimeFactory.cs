using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Tollgate.Data;

/// <summary>
/// Lets <c>dotnet ef migrations add … --project src/Tollgate.Storage.MySql</c> build the context without the host.
/// Adding a migration never connects, so the connection string only has to parse.
/// </summary>
internal sealed class MySqlDesignTimeFactory : IDesignTimeDbContextFactory<MySqlTollgateDbContext>
{
    public MySqlTollgateDbContext CreateDbContext(string[] args)
    {
        var options = new DbContextOptionsBuilder<MySqlTollgateDbContext>();
        Storage.MySql.MySqlStorage.UseTollgateMySql(options, "Server=localhost;Database=tollgate");
        return new MySqlTollgateDbContext(options.Options);
    }
}
