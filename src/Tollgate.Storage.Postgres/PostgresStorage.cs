using Microsoft.EntityFrameworkCore;
using Npgsql;
using Tollgate.Data;
using Tollgate.Usage;

namespace Tollgate.Storage.Postgres;

/// <summary>The entry point <c>AddTollgate</c> finds when <c>Tollgate:Database:Provider</c> is Postgres.</summary>
public sealed class PostgresStorage : ITollgateStorage
{
    /// <inheritdoc />
    public void AddTo(IServiceCollection services, string connectionString)
    {
        // One data source (connection pool) for EF Core and the usage writer, owned by the host: it is
        // disposed, and its connections closed, when the host stops.
        services.AddSingleton(_ => NpgsqlDataSource.Create(connectionString));
        services.AddDbContextPool<TollgateDbContext, PostgresTollgateDbContext>((sp, o) => o
            .UseNpgsql(sp.GetRequiredService<NpgsqlDataSource>())
            .UseSnakeCaseNamingConvention());
        services.AddSingleton<IUsageBatchStore, PostgresUsageBatchStore>();
        services.AddSingleton<IUsageRetentionStore, PostgresUsageRetentionStore>();
    }
}
