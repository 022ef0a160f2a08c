using System.Data.Common;
using System.Globalization;
using Microsoft.Data.Sqlite;
using MySql.Data.MySqlClient;
using Npgsql;
using Tollgate.Data;

namespace Tollgate.Testing;

/// <summary>
/// The database of a test app on one of the three providers, and direct SQL against it, to check what really reached
/// the database. Table and column names are the same on every provider; write parameters as <c>@name</c>, which all
/// three drivers read.
/// </summary>
public sealed class AppDatabase
{
    /// <summary>Environment variable that picks the provider of apps that do not name one (Sqlite, Postgres, MySql).</summary>
    public const string ProviderVariable = "TOLLGATE_TEST_DATABASE";

    private readonly DatabaseServer? _server;

    private AppDatabase(DatabaseProvider provider, string connectionString, string? sqlitePath, DatabaseServer? server = null)
    {
        _server = server;
        Provider = provider;
        ConnectionString = connectionString;
        SqlitePath = sqlitePath;
        SpoolPath = sqlitePath is null ? TestDatabase.NewSpoolPath() : sqlitePath + ".spool";
    }

    /// <summary>
    /// The provider of apps that do not name one: <see cref="ProviderVariable"/> when set, else SQLite. Running the
    /// suite with <c>TOLLGATE_TEST_DATABASE=Postgres</c> runs every such test on PostgreSQL.
    /// </summary>
    public static DatabaseProvider DefaultProvider { get; } =
        Enum.TryParse<DatabaseProvider>(Environment.GetEnvironmentVariable(ProviderVariable), ignoreCase: true, out var p)
            ? p
            : DatabaseProvider.Sqlite;

    /// <summary>The provider.</summary>
    public DatabaseProvider Provider { get; }

    /// <summary>The connection string the app is configured with.</summary>
    public string ConnectionString { get; }

    /// <summary>
    /// The usage spool's folder of the apps on this database: one per database, so that an app started again on the
    /// same database replays what the previous one spooled, and parallel tests never share a spool.
    /// </summary>
    public string SpoolPath { get; }

    /// <summary>The file, on SQLite; null on the server databases.</summary>
    public string? SqlitePath { get; }

    /// <summary>A new empty database: a temporary file on SQLite, a new database on the shared test server otherwise.</summary>
    public static AppDatabase Create(DatabaseProvider provider) => provider == DatabaseProvider.Sqlite
        ? ForSqliteFile(TestDatabase.NewSqlitePath())
        : OnServer(DatabaseServers.For(provider));

    /// <summary>A new empty database on <paramref name="server"/>, e.g. a server of its own that a test stops and starts.</summary>
    public static AppDatabase OnServer(DatabaseServer server)
    {
        ArgumentNullException.ThrowIfNull(server);
        return new AppDatabase(server.Provider, server.CreateDatabase(), null, server);
    }

    /// <summary>The SQLite file at <paramref name="path"/> (created by the app if missing).</summary>
    public static AppDatabase ForSqliteFile(string path) =>
        new(DatabaseProvider.Sqlite, $"Data Source={path}", path);

    /// <summary>The real usage batch store of <see cref="DefaultProvider"/>, for tests that wrap it (a slow database).</summary>
    public static Tollgate.Usage.IUsageBatchStore DefaultBatchStore(IServiceProvider services) =>
        (Tollgate.Usage.IUsageBatchStore)Microsoft.Extensions.DependencyInjection.ActivatorUtilities.CreateInstance(services, DefaultProvider switch
        {
            DatabaseProvider.Postgres => typeof(Tollgate.Usage.PostgresUsageBatchStore),
            DatabaseProvider.MySql => typeof(Tollgate.Usage.MySqlUsageBatchStore),
            _ => typeof(Tollgate.Usage.SqliteUsageBatchStore),
        });

    /// <summary>An open connection that bypasses the driver's pool, so the tests never hold the app's connections.</summary>
    public async Task<DbConnection> OpenAsync()
    {
        DbConnection connection = Provider switch
        {
            DatabaseProvider.Sqlite => new SqliteConnection($"Data Source={SqlitePath};Pooling=False"),
            DatabaseProvider.Postgres => new NpgsqlConnection(_server!.Unpooled(ConnectionString)),
            DatabaseProvider.MySql => new MySqlConnection(_server!.Unpooled(ConnectionString)),
            _ => throw new ArgumentOutOfRangeException(nameof(Provider), Provider, null),
        };
        await connection.OpenAsync();
        return connection;
    }

    /// <summary>The first column of the first row, as a number (0 for NULL).</summary>
    public async Task<long> ScalarAsync(string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = await OpenAsync();
        await using var command = Command(connection, sql, parameters);
        var value = await command.ExecuteScalarAsync();
        return value is null or DBNull ? 0 : Convert.ToInt64(value, CultureInfo.InvariantCulture);
    }

    /// <summary>Runs a statement; returns the rows it changed.</summary>
    public async Task<int> ExecuteAsync(string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = await OpenAsync();
        await using var command = Command(connection, sql, parameters);
        return await command.ExecuteNonQueryAsync();
    }

    /// <summary>Every row of a query, each as column name → value.</summary>
    public async Task<List<Dictionary<string, object?>>> QueryAsync(string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = await OpenAsync();
        await using var command = Command(connection, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<Dictionary<string, object?>>();
        while (await reader.ReadAsync())
        {
            var row = new Dictionary<string, object?>(StringComparer.Ordinal);
            for (var i = 0; i < reader.FieldCount; i++)
            {
                row[reader.GetName(i)] = reader.IsDBNull(i) ? null : reader.GetValue(i);
            }

            rows.Add(row);
        }

        return rows;
    }

    /// <summary>
    /// Closes the pooled connections the app left behind. Npgsql's pool belongs to the app and closes with it;
    /// MySql.Data keeps one pool per connection string for the whole process.
    /// </summary>
    public void ReleaseConnections()
    {
        if (Provider == DatabaseProvider.MySql)
        {
            using var connection = new MySqlConnection(ConnectionString);
            MySqlConnection.ClearPool(connection);
        }
    }

    /// <inheritdoc />
    public override string ToString() => Provider.ToString();

    private static DbCommand Command(DbConnection connection, string sql, (string Name, object Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value;
            command.Parameters.Add(parameter);
        }

        return command;
    }
}
