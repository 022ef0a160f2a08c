using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Tollgate.Data;

/// <summary>Registers the database.</summary>
public static class DataServiceCollectionExtensions
{
    /// <summary>The connection string used when <c>ConnectionStrings:Tollgate</c> is not set.</summary>
    public const string DefaultConnectionString = "Data Source=tollgate.db";

    /// <summary>
    /// Adds the <see cref="TollgateDbContext"/> for the configured provider, pooled because the tenant API opens
    /// one per request, and the migrator that brings the schema up to date on start.
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
            default:
                throw new OptionsValidationException(
                    DatabaseOptions.Section,
                    typeof(DatabaseOptions),
                    [$"Tollgate:Database:Provider '{options.Provider}' is not available in this build yet; use Sqlite."]);
        }

        services.AddSingleton(new DatabaseDescription(options.Provider, connectionString));
        services.AddHostedService<DatabaseMigrator>();
        return services;
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
