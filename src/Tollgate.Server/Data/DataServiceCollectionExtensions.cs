using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Tollgate.Data;

/// <summary>Registers the database.</summary>
public static class DataServiceCollectionExtensions
{
    /// <summary>The connection string used when <c>ConnectionStrings:Tollgate</c> is not set.</summary>
    public const string DefaultConnectionString = "Data Source=tollgate.db";

    /// <summary>
    /// Adds the <see cref="TollgateDbContext"/> for the configured provider, pooled because the tenant API opens
    /// one per request, the provider's <see cref="Usage.IUsageBatchStore"/>, and the migrator that brings the schema
    /// up to date on start.
    /// </summary>
    public static IServiceCollection AddTollgateData(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<DatabaseOptions>().BindConfiguration(DatabaseOptions.Section).ValidateOnStart();
        var options = configuration.GetSection(DatabaseOptions.Section).Get<DatabaseOptions>() ?? new DatabaseOptions();
        var connectionString = configuration.GetConnectionString("Tollgate") ?? DefaultConnectionString;

        switch (options.Provider)
        {
            case DatabaseProvider.Sqlite:
                services.AddDbContextPool<TollgateDbContext, SqliteTollgateDbContext>(o => o
                    .UseSqlite(SqliteConnectionTuning.Tune(connectionString))
                    .UseSnakeCaseNamingConvention());
                services.AddSingleton<Usage.IUsageBatchStore, Usage.SqliteUsageBatchStore>();
                break;
            case DatabaseProvider.Postgres:
                RequireServerConnectionString(options.Provider, connectionString);
                // One data source (connection pool) for EF Core and the usage writer, owned by the host: it is
                // disposed, and its connections closed, when the host stops.
                services.AddSingleton(_ => NpgsqlDataSource.Create(connectionString));
                services.AddDbContextPool<TollgateDbContext, PostgresTollgateDbContext>((sp, o) => o
                    .UseNpgsql(sp.GetRequiredService<NpgsqlDataSource>())
                    .UseSnakeCaseNamingConvention());
                services.AddSingleton<Usage.IUsageBatchStore, Usage.PostgresUsageBatchStore>();
                break;
            case DatabaseProvider.MySql:
                RequireServerConnectionString(options.Provider, connectionString);
                services.AddDbContextPool<TollgateDbContext, MySqlTollgateDbContext>(o => o.UseTollgateMySql(connectionString));
                services.AddSingleton<Usage.IUsageBatchStore, Usage.MySqlUsageBatchStore>();
                break;
            default:
                throw new OptionsValidationException(
                    DatabaseOptions.Section,
                    typeof(DatabaseOptions),
                    [$"Tollgate:Database:Provider '{options.Provider}' is unknown; use Sqlite, Postgres or MySql."]);
        }

        services.AddSingleton(new DatabaseDescription(options.Provider, connectionString));
        services.AddHostedService<DatabaseMigrator>();
        return services;
    }

    /// <summary>
    /// The MySQL options of both the running app and the design-time factory, so that <c>dotnet ef database update</c>
    /// migrates exactly as the app does.
    /// </summary>
    internal static DbContextOptionsBuilder UseTollgateMySql(this DbContextOptionsBuilder options, string connectionString) =>
        options
            .UseMySQL(connectionString)
            .UseSnakeCaseNamingConvention()
            .ReplaceService<IHistoryRepository, MySqlHistoryRepository>()
            .AddInterceptors(MariaDbDeleteInterceptor.Instance);

    /// <summary>
    /// Fails on start with a message that names the setting when a server provider is chosen but the connection
    /// string is still the SQLite default: otherwise the driver's own parse error names neither.
    /// </summary>
    private static void RequireServerConnectionString(DatabaseProvider provider, string connectionString)
    {
        var builder = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString };
        string[] serverKeys = ["host", "server", "database", "initial catalog", "user id", "username", "uid"];
        if (!serverKeys.Any(builder.ContainsKey))
        {
            var example = provider == DatabaseProvider.Postgres
                ? "Host=localhost;Database=tollgate;Username=tollgate;Password=…"
                : "Server=localhost;Database=tollgate;User ID=tollgate;Password=…";
            throw new OptionsValidationException(
                "ConnectionStrings:Tollgate",
                typeof(DatabaseOptions),
                [$"Tollgate:Database:Provider is {provider} but ConnectionStrings:Tollgate is a SQLite connection string; set it, e.g. '{example}'."]);
        }
    }
}

/// <summary>Which database this process uses, for logs and for the raw-SQL writers.</summary>
/// <param name="Provider">The provider.</param>
/// <param name="ConnectionString">The connection string as configured.</param>
public sealed record DatabaseDescription(DatabaseProvider Provider, string ConnectionString)
{
    /// <summary>The connection string without passwords, safe to log.</summary>
    public string Redacted => System.Text.RegularExpressions.Regex.Replace(
        ConnectionString, "(?i)(password|pwd)=[^;]*", "$1=***");
}
