using Microsoft.Extensions.Options;

namespace Tollgate.Data;

/// <summary>Registers the database.</summary>
public static class DataServiceCollectionExtensions
{
    /// <summary>The connection string used when <c>ConnectionStrings:Tollgate</c> is not set.</summary>
    public const string DefaultConnectionString = "Data Source=tollgate.db";

    /// <summary>
    /// Adds the <see cref="TollgateDbContext"/> and <see cref="Usage.IUsageBatchStore"/> of the configured provider,
    /// whose package (<c>Tollgate.Storage.Sqlite</c>, <c>.Postgres</c> or <c>.MySql</c>) the app references, and the
    /// migrator that brings the schema up to date on start. Fails at start, naming the package, when the app does not
    /// reference the package of the provider the configuration names.
    /// </summary>
    public static IServiceCollection AddTollgateData(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<DatabaseOptions>().BindConfiguration(DatabaseOptions.Section).ValidateOnStart();
        var options = configuration.GetSection(DatabaseOptions.Section).Get<DatabaseOptions>() ?? new DatabaseOptions();
        var connectionString = configuration.GetConnectionString("Tollgate") ?? DefaultConnectionString;
        if (!Enum.IsDefined(options.Provider))
        {
            throw new OptionsValidationException(
                DatabaseOptions.Section,
                typeof(DatabaseOptions),
                [$"Tollgate:Database:Provider '{options.Provider}' is unknown; use Sqlite, Postgres or MySql."]);
        }

        if (options.Provider != DatabaseProvider.Sqlite)
        {
            RequireServerConnectionString(options.Provider, connectionString);
        }

        var package = $"Tollgate.Storage.{options.Provider}";
        var storage = TollgatePackages.Load<ITollgateStorage>(package, $"Tollgate.Storage.{options.Provider}.{options.Provider}Storage")
            ?? throw new OptionsValidationException(
                DatabaseOptions.Section,
                typeof(DatabaseOptions),
                [$"Tollgate:Database:Provider is {options.Provider}, but the app does not reference the {package} package; add it (dotnet add package {package})."]);
        storage.AddTo(services, connectionString);

        services.AddSingleton(new DatabaseDescription(options.Provider, connectionString));
        services.AddHostedService<DatabaseMigrator>();
        return services;
    }

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

/// <summary>
/// A storage package's entry point (<c>Tollgate.Storage.Sqlite</c>, <c>.Postgres</c>, <c>.MySql</c>), found by
/// <see cref="DataServiceCollectionExtensions.AddTollgateData"/> from <c>Tollgate:Database:Provider</c>: the app
/// references only the provider it uses, and the engine references none.
/// </summary>
public interface ITollgateStorage
{
    /// <summary>
    /// Adds the provider's <see cref="TollgateDbContext"/>, <see cref="Usage.IUsageBatchStore"/> and
    /// <see cref="Usage.IUsageRetentionStore"/>.
    /// </summary>
    void AddTo(IServiceCollection services, string connectionString);
}
