using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Tollgate.Data;

namespace Tollgate.Testing;

/// <summary>
/// A throw-away database server owned by this test process: its files live in a temporary folder, it listens on a
/// free loopback port, and it is stopped and deleted when the process exits. A watchdog shell stops it and deletes
/// the folder too if the test process is killed, so nothing is left running either way.
/// </summary>
public abstract class DatabaseServer : IDisposable
{
    private static readonly string Root = Path.Combine(Path.GetTempPath(), "tollgate-test-servers");
    private readonly ConcurrentQueue<string> _log = new();
    private Process? _server;
    private Process? _watchdog;
    private bool _disposed;

    /// <summary>Prepares a folder for one server; nothing runs until <see cref="Start"/>.</summary>
    protected DatabaseServer(string name)
    {
        RemoveAbandonedFolders();
        Folder = Path.Combine(Root, $"{name}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}");
        Directory.CreateDirectory(Folder);
    }

    /// <summary>The provider that talks to this server.</summary>
    public abstract DatabaseProvider Provider { get; }

    /// <summary>The loopback port the server listens on.</summary>
    public int Port { get; private set; }

    /// <summary>The server's temporary folder (data, socket, logs).</summary>
    protected string Folder { get; }

    /// <summary>True when the tests run as root, where both servers must run as their own system user.</summary>
    protected static bool RunningAsRoot => Environment.UserName == "root";

    /// <summary>Creates an empty database with a unique name and returns a connection string for it.</summary>
    public abstract string CreateDatabase();

    /// <summary>A connection string for the same database without connection pooling, for the tests' own reads.</summary>
    public abstract string Unpooled(string connectionString);

    /// <summary>Stops the server and deletes its folder.</summary>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Stops the server (gracefully, then by force) and deletes its folder.</summary>
    protected virtual void Dispose(bool disposing)
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (_server is { HasExited: false })
        {
            Signal(_server.Id, StopSignal);
            if (!_server.WaitForExit(TimeSpan.FromSeconds(10)))
            {
                _server.Kill(entireProcessTree: true);
                _server.WaitForExit(TimeSpan.FromSeconds(5));
            }
        }

        _server?.Dispose();
        TryDelete(Folder);
        // Last: the test runner may end this process at any moment during the shutdown, and then the watchdog
        // finishes the job.
        StopWatchdog();
    }

    /// <summary>The signal that asks this server for a quick clean shutdown.</summary>
    protected abstract string StopSignal { get; }

    /// <summary>The command line that starts the server on <paramref name="port"/>.</summary>
    protected abstract ProcessStartInfo ServerCommand(int port);

    /// <summary>True once the server accepts connections.</summary>
    protected abstract bool Answers(int port);

    /// <summary>
    /// Stops the running server as an operator would in an outage (<see cref="OutageSignal"/>: its connections are cut),
    /// keeping its files; <see cref="Restart"/> brings it back on the same port. For outage tests on a server of their own.
    /// </summary>
    public void Stop()
    {
        if (_server is not { HasExited: false } server)
        {
            return;
        }

        Signal(server.Id, OutageSignal);
        if (!server.WaitForExit(TimeSpan.FromSeconds(30)))
        {
            server.Kill(entireProcessTree: true);
            server.WaitForExit(TimeSpan.FromSeconds(5));
        }

        server.Dispose();
        _server = null;
        StopWatchdog();
    }

    /// <summary>Starts a server stopped by <see cref="Stop"/> again, on the same port and files; waits until it answers.</summary>
    public void Restart() => Start(Port);

    /// <summary>The signal of <see cref="Stop"/>: the server's fast shutdown, which ends open connections.</summary>
    protected virtual string OutageSignal => "INT";

    /// <summary>Starts the server on a free port (or on <paramref name="fixedPort"/>) and waits until it answers.</summary>
    protected void Start(int? fixedPort = null)
    {
        for (var attempt = 1; ; attempt++)
        {
            var port = fixedPort ?? FreePort();
            var server = Process.Start(Capture(ServerCommand(port)))
                ?? throw new InvalidOperationException($"Could not start {Provider} server.");
            server.OutputDataReceived += (_, e) => Remember(e.Data);
            server.ErrorDataReceived += (_, e) => Remember(e.Data);
            server.BeginOutputReadLine();
            server.BeginErrorReadLine();
            _server = server;
            StartWatchdog(server.Id);

            var deadline = Stopwatch.StartNew();
            while (!server.HasExited && deadline.Elapsed < TimeSpan.FromSeconds(60))
            {
                if (Answers(port))
                {
                    Port = port;
                    return;
                }

                Thread.Sleep(200);
            }

            var exited = server.HasExited;
            if (!exited)
            {
                server.Kill(entireProcessTree: true);
            }

            server.WaitForExit(TimeSpan.FromSeconds(5));
            StopWatchdog();
            if (!exited || attempt == 3 || fixedPort is not null)
            {
                throw new InvalidOperationException(
                    $"The {Provider} test server did not start on port {port} ({(exited ? "it exited" : "no answer in 60 s")}). Its output:\n{Log}");
            }

            // Most likely another process took the port between FreePort and the server's bind: try another.
            _log.Clear();
        }
    }

    /// <summary>The server's output so far, for failure messages.</summary>
    protected string Log => string.Join('\n', _log);

    /// <summary>Runs a preparation command to the end; fails with its output if it fails.</summary>
    protected static void Run(string file, params string[] arguments)
    {
        var start = Capture(new ProcessStartInfo(file));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not run {file}.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} did not finish in 2 minutes.");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"{file} {string.Join(' ', arguments)} failed with exit code {process.ExitCode}:\n{output.Result}\n{error.Result}");
        }
    }

    /// <summary>The first of <paramref name="candidates"/> that exists as a file, or null.</summary>
    protected static string? FindProgram(IEnumerable<string> candidates) => candidates.FirstOrDefault(File.Exists);

    /// <summary>The directories of PATH joined with <paramref name="name"/>.</summary>
    protected static IEnumerable<string> OnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, name));

    /// <summary>Fails with installation advice when a system user the server needs under root is missing.</summary>
    protected static void RequireSystemUser(string user, string installAdvice)
    {
        if (!File.ReadLines("/etc/passwd").Any(line => line.StartsWith(user + ":", StringComparison.Ordinal)))
        {
            throw new InvalidOperationException(
                $"The tests run as root, and the database server must run as the system user '{user}', which does not exist. {installAdvice}");
        }
    }

    private static ProcessStartInfo Capture(ProcessStartInfo start)
    {
        start.UseShellExecute = false;
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.RedirectStandardInput = false;
        return start;
    }

    private void Remember(string? line)
    {
        if (line is null)
        {
            return;
        }

        _log.Enqueue(line);
        while (_log.Count > 200)
        {
            _log.TryDequeue(out _);
        }
    }

    /// <summary>
    /// A shell that waits for this test process to end, however it ends, then stops the server and deletes its
    /// folder. On a normal exit <see cref="Dispose()"/> does that first and ends the watchdog.
    /// </summary>
    private void StartWatchdog(int serverPid)
    {
        var script =
            $"while kill -0 {Environment.ProcessId} 2>/dev/null; do sleep 1; done; " +
            $"kill -{StopSignal} {serverPid} 2>/dev/null; " +
            $"for i in $(seq 1 20); do kill -0 {serverPid} 2>/dev/null || break; sleep 1; done; " +
            $"kill -KILL {serverPid} 2>/dev/null; rm -rf '{Folder}'";
        var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(script);
        _watchdog = Process.Start(start);
    }

    private void StopWatchdog()
    {
        if (_watchdog is { HasExited: false })
        {
            _watchdog.Kill();
            _watchdog.WaitForExit(TimeSpan.FromSeconds(5));
        }

        _watchdog?.Dispose();
        _watchdog = null;
    }

    private static void Signal(int pid, string signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", [$"-{signal}", pid.ToString(CultureInfo.InvariantCulture)]) { UseShellExecute = false });
        kill?.WaitForExit(TimeSpan.FromSeconds(5));
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Deletes folders left by test processes that no longer run (a crash before the watchdog cleaned up).</summary>
    private static void RemoveAbandonedFolders()
    {
        if (!Directory.Exists(Root))
        {
            return;
        }

        foreach (var folder in Directory.GetDirectories(Root))
        {
            var parts = Path.GetFileName(folder).Split('-');
            if (parts.Length == 3 && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var owner)
                && owner != Environment.ProcessId && !Directory.Exists($"/proc/{owner}"))
            {
                TryDelete(folder);
            }
        }
    }

    private static void TryDelete(string folder)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
            // A server that has not quite let go of a file; the next run's RemoveAbandonedFolders takes it.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
