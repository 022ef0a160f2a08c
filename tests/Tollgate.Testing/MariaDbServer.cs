using System.Diagnostics;
using System.Globalization;
using MySql.Data.MySqlClient;
using Tollgate.Data;

namespace Tollgate.Testing;

/// <summary>
/// A throw-away MariaDB server made with <c>mariadb-install-db</c> in a temporary folder, reached over TCP by a
/// password user that an init file creates. Under root the server drops to the <c>mysql</c> user that Debian's
/// package creates, as a production install runs it.
/// </summary>
public sealed class MariaDbServer : DatabaseServer
{
    private const string InstallAdvice =
        "Install the MariaDB server: 'apt-get install -y mariadb-server' on Debian or Ubuntu (the README's test command does this).";

    private const string User = "tollgate";
    private const string Password = "tollgate-test";

    private readonly string _server;

    private MariaDbServer()
        : base("mariadb")
    {
        _server = FindProgram(["/usr/sbin/mariadbd", .. OnPath("mariadbd"), "/usr/sbin/mysqld", .. OnPath("mysqld")])
            ?? throw new InvalidOperationException(
                "The MySQL tests need a MariaDB (or MySQL) server, and none was found (no mariadbd or mysqld in /usr/sbin or on PATH). " + InstallAdvice);
        var install = FindProgram([.. OnPath("mariadb-install-db"), "/usr/bin/mariadb-install-db", .. OnPath("mysql_install_db")])
            ?? throw new InvalidOperationException("mariadb-install-db was not found beside the MariaDB server. " + InstallAdvice);

        Directory.CreateDirectory(DataFolder);
        if (RunningAsRoot)
        {
            RequireSystemUser("mysql", InstallAdvice);
            Run("chown", "-R", "mysql:", Folder);
        }

        // The init file runs on every start with full rights: it creates the TCP user the tests and the app log in with.
        File.WriteAllText(InitFile,
            $"CREATE USER IF NOT EXISTS '{User}'@'127.0.0.1' IDENTIFIED BY '{Password}';\n" +
            $"GRANT ALL PRIVILEGES ON *.* TO '{User}'@'127.0.0.1' WITH GRANT OPTION;\n");
        string[] installArguments = ["--no-defaults", $"--datadir={DataFolder}", "--auth-root-authentication-method=normal",
            "--skip-test-db", "--skip-name-resolve", .. UserArgument()];
        Run(install, installArguments);
        Start();
    }

    /// <inheritdoc />
    public override DatabaseProvider Provider => DatabaseProvider.MySql;

    /// <inheritdoc />
    protected override string StopSignal => "TERM"; // a normal shutdown: closes connections and flushes InnoDB

    /// <inheritdoc />
    protected override string OutageSignal => "TERM";

    private string DataFolder => Path.Combine(Folder, "data");

    private string InitFile => Path.Combine(Folder, "init.sql");

    /// <summary>Starts a server; fails with installation advice when MariaDB is not installed.</summary>
    public static MariaDbServer StartNew() => new();

    /// <inheritdoc />
    public override string CreateDatabase()
    {
        var name = "tollgate_" + Guid.NewGuid().ToString("N")[..12];
        using var connection = new MySqlConnection(ConnectionString(null, pooled: false));
        connection.Open();
        using var command = new MySqlCommand($"CREATE DATABASE {name}", connection);
        command.ExecuteNonQuery();
        return ConnectionString(name, pooled: true);
    }

    /// <inheritdoc />
    public override string Unpooled(string connectionString) =>
        new MySqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString;

    /// <inheritdoc />
    protected override ProcessStartInfo ServerCommand(int port)
    {
        var start = new ProcessStartInfo(_server);
        string[] arguments =
        [
            "--no-defaults", $"--datadir={DataFolder}", $"--port={port.ToString(CultureInfo.InvariantCulture)}",
            "--bind-address=127.0.0.1", $"--socket={Path.Combine(Folder, "mysqld.sock")}",
            $"--pid-file={Path.Combine(Folder, "mysqld.pid")}", $"--init-file={InitFile}", "--skip-name-resolve",
            // A case-insensitive server default, as most installs have: the schema must not depend on it.
            "--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci",
            "--max-connections=500", "--innodb-fast-shutdown=2",
            // The data is thrown away with the folder: no need to survive a power cut.
            "--innodb-flush-log-at-trx-commit=2", "--innodb-doublewrite=0", "--innodb-buffer-pool-size=256M",
            .. UserArgument(),
        ];
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return start;
    }

    /// <inheritdoc />
    protected override bool Answers(int port)
    {
        try
        {
            using var connection = new MySqlConnection(ConnectionString(null, pooled: false, port));
            connection.Open();
            return true;
        }
        catch (MySqlException)
        {
            return false;
        }
    }

    private static string[] UserArgument() => RunningAsRoot ? ["--user=mysql"] : [];

    private string ConnectionString(string? database, bool pooled, int? port = null)
    {
        var builder = new MySqlConnectionStringBuilder
        {
            Server = "127.0.0.1",
            Port = (uint)(port ?? Port),
            UserID = User,
            Password = Password,
            Pooling = pooled,
            SslMode = MySqlSslMode.Disabled,
        };
        if (database is not null)
        {
            builder.Database = database;
        }

        return builder.ConnectionString;
    }
}
