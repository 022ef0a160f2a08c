using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Tollgate.Data;

/// <summary>
/// Lets <c>dotnet ef migrations add … --project src/Tollgate.Storage.Postgres</c> build the context without the host.
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
