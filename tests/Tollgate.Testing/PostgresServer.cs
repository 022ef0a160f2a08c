using System.Diagnostics;
using Npgsql;
using Tollgate.Data;

namespace Tollgate.Testing;

/// <summary>
/// A throw-away PostgreSQL cluster made with <c>initdb</c> in a temporary folder. PostgreSQL refuses to run as root,
/// so under root it runs as the <c>postgres</c> user that Debian's package creates.
/// </summary>
public sealed class PostgresServer : DatabaseServer
{
    private const string InstallAdvice =
        "Install PostgreSQL's server programs: 'apt-get install -y postgresql' on Debian or Ubuntu (the README's test command does this).";

    private readonly string _binaries;

    private PostgresServer()
        : base("postgres")
    {
        _binaries = FindBinaries() ?? throw new InvalidOperationException(
            "The PostgreSQL tests need a PostgreSQL server, and none was found (no initdb and postgres in " +
            "/usr/lib/postgresql/*/bin or on PATH). " + InstallAdvice);
        if (RunningAsRoot)
        {
            RequireSystemUser("postgres", InstallAdvice);
            Run("chown", "-R", "postgres:", Folder);
        }

        // trust: the server listens on loopback only and lives as long as this test process.
        var initdb = AsServerUser(Path.Combine(_binaries, "initdb"),
            ["-D", DataFolder, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"]);
        Run(initdb.FileName, [.. initdb.ArgumentList]);
        Start();
    }

    /// <inheritdoc />
    public override DatabaseProvider Provider => DatabaseProvider.Postgres;

    /// <inheritdoc />
    protected override string StopSignal => "QUIT"; // "immediate" shutdown: the data is thrown away, so no checkpoint

    private string DataFolder => Path.Combine(Folder, "data");

    /// <summary>Starts a server; fails with installation advice when PostgreSQL is not installed.</summary>
    public static PostgresServer StartNew() => new();

    /// <inheritdoc />
    public override string CreateDatabase()
    {
        var name = "tollgate_" + Guid.NewGuid().ToString("N")[..12];
        using var connection = new NpgsqlConnection(ConnectionString("postgres", pooled: false));
        connection.Open();
        using var command = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
        command.ExecuteNonQuery();
        return ConnectionString(name, pooled: true);
    }

    /// <inheritdoc />
    public override string Unpooled(string connectionString) =>
        new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString;

    /// <inheritdoc />
    protected override ProcessStartInfo ServerCommand(int port)
    {
        return AsServerUser(Path.Combine(_binaries, "postgres"),
        [
            "-D", DataFolder, "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-c", "listen_addresses=127.0.0.1", "-c", $"unix_socket_directories={Folder}",
            // The data is thrown away with the folder: no need to survive a power cut, so no fsync.
            "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
            "-c", "max_connections=300", "-c", "shared_buffers=128MB",
        ]);
    }

    /// <inheritdoc />
    protected override bool Answers(int port)
    {
        try
        {
            using var connection = new NpgsqlConnection(ConnectionString("postgres", pooled: false, port));
            connection.Open();
            return true;
        }
        catch (NpgsqlException)
        {
            return false;
        }
    }

    private string ConnectionString(string database, bool pooled, int? port = null) =>
        new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1",
            Port = port ?? Port,
            Database = database,
            Username = "postgres",
            Pooling = pooled,
        }.ConnectionString;

    /// <summary>
    /// Under root, the program runs through setpriv as postgres; setpriv execs it, so the pid is the server's own and
    /// signals reach the server itself.
    /// </summary>
    private static ProcessStartInfo AsServerUser(string program, string[] arguments)
    {
        var start = new ProcessStartInfo(RunningAsRoot ? "setpriv" : program);
        if (RunningAsRoot)
        {
            foreach (var argument in (string[])["--reuid=postgres", "--regid=postgres", "--init-groups", "--", program])
            {
                start.ArgumentList.Add(argument);
            }
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return start;
    }

    private static string? FindBinaries()
    {
        var versions = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql")
                .OrderByDescending(d => int.TryParse(Path.GetFileName(d), out var v) ? v : 0)
                .Select(d => Path.Combine(d, "bin"))
            : [];
        var onPath = OnPath("initdb").Select(Path.GetDirectoryName).OfType<string>();
        return versions.Concat(onPath)
            .FirstOrDefault(d => File.Exists(Path.Combine(d, "initdb")) && File.Exists(Path.Combine(d, "postgres")));
    }
}
