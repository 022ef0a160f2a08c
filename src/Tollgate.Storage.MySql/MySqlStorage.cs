using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Migrations;
using Tollgate.Data;
using Tollgate.Usage;

namespace Tollgate.Storage.MySql;

/// <summary>The entry point <c>AddTollgate</c> finds when <c>Tollgate:Database:Provider</c> is MySql.</summary>
public sealed class MySqlStorage : ITollgateStorage
{
    /// <inheritdoc />
    public void AddTo(IServiceCollection services, string connectionString)
    {
        services.AddDbContextPool<TollgateDbContext, MySqlTollgateDbContext>(o => UseTollgateMySql(o, connectionString));
        services.AddSingleton<IUsageBatchStore, MySqlUsageBatchStore>();
        services.AddSingleton<IUsageRetentionStore, MySqlUsageRetentionStore>();
    }

    /// <summary>
    /// The MySQL options of both the running app and the design-time factory, so that <c>dotnet ef database update</c>
    /// migrates exactly as the app does.
    /// </summary>
    internal static DbContextOptionsBuilder UseTollgateMySql(DbContextOptionsBuilder options, string connectionString) =>
        options
            .UseMySQL(connectionString)
            .UseSnakeCaseNamingConvention()
            .ReplaceService<IHistoryRepository, MySqlHistoryRepository>()
            .AddInterceptors(MariaDbDeleteInterceptor.Instance);
}
