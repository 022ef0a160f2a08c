using Microsoft.EntityFrameworkCore;
using Tollgate.Data;
using Tollgate.Usage;

namespace Tollgate.Storage.Sqlite;

/// <summary>The entry point <c>AddTollgate</c> finds when <c>Tollgate:Database:Provider</c> is Sqlite.</summary>
public sealed class SqliteStorage : ITollgateStorage
{
    /// <inheritdoc />
    public void AddTo(IServiceCollection services, string connectionString)
    {
        services.AddDbContextPool<TollgateDbContext, SqliteTollgateDbContext>(o => o
            .UseSqlite(SqliteConnectionTuning.Tune(connectionString))
            .UseSnakeCaseNamingConvention());
        services.AddSingleton<IUsageBatchStore, SqliteUsageBatchStore>();
        services.AddSingleton<IUsageRetentionStore, SqliteUsageRetentionStore>();
    }
}
