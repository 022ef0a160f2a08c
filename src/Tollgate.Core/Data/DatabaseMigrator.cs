using Microsoft.EntityFrameworkCore;

namespace Tollgate.Data;

/// <summary>
/// Applies the EF Core migrations on start, before the server listens (hosted services start in order and this one
/// is registered first), then runs the first-start seeders.
/// </summary>
internal sealed partial class DatabaseMigrator(
    IServiceScopeFactory scopes,
    DatabaseDescription database,
    IEnumerable<IStartupSeeder> seeders,
    ILogger<DatabaseMigrator> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        LogDatabase(logger, database.Provider, database.Redacted);
        await using (var scope = scopes.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<TollgateDbContext>();
            await db.PrepareDatabaseAsync(cancellationToken);
            await db.Database.MigrateAsync(cancellationToken);
        }

        foreach (var seeder in seeders)
        {
            await seeder.SeedAsync(cancellationToken);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "Database: {Provider} ({ConnectionString})")]
    private static partial void LogDatabase(ILogger logger, DatabaseProvider provider, string connectionString);
}

/// <summary>Something that fills an empty database on first start (the super admin, the demo data).</summary>
internal interface IStartupSeeder
{
    /// <summary>Runs after the migrations; must do nothing when its data already exists.</summary>
    Task SeedAsync(CancellationToken cancellationToken);
}
