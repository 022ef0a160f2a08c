using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using Tollgate.Testing;

namespace Tollgate.Server.Tests.Deployment;

/// <summary>
/// The published server run as a service runs it: <c>dotnet /path/Tollgate.Server.dll</c> as a child process whose
/// working directory is a folder of its own (holding its SQLite database and usage spool), on a free loopback port,
/// in the Production environment, with nothing of this test process's configuration. A watchdog shell stops it and
/// deletes its folder if the test process dies first.
/// </summary>
public sealed class PublishedServer : IDisposable
{
    private readonly ConcurrentQueue<string> _output = new();
    private readonly Process _process;
    private Process? _watchdog;

    private PublishedServer(Process process, string workingDirectory, Uri address)
    {
        _process = process;
        WorkingDirectory = workingDirectory;
        Address = address;
    }

    /// <summary>The working directory it was started in: not the published folder.</summary>
    public string WorkingDirectory { get; }

    /// <summary>Where it listens.</summary>
    public Uri Address { get; }

    /// <summary>From the start of the process to the first 200 from <c>/healthz</c>.</summary>
    public TimeSpan StartupTime { get; private set; }

    /// <summary>Its standard output and error so far, one line each.</summary>
    public string Output => string.Join('\n', _output);

    /// <summary>
    /// Starts <paramref name="serverDll"/> with a new folder under <paramref name="parentFolder"/> as its working
    /// directory and waits until <c>/healthz</c> answers 200 (a port taken meanwhile by another process: another port).
    /// </summary>
    public static PublishedServer Start(string serverDll, string parentFolder, string adminPassword)
    {
        for (var attempt = 1; ; attempt++)
        {
            var folder = Path.Combine(parentFolder, "run-" + Guid.NewGuid().ToString("N")[..8]);
            Directory.CreateDirectory(folder);
            var address = new Uri($"http://127.0.0.1:{FreePort.Next()}");
            var start = new ProcessStartInfo("dotnet")
            {
                WorkingDirectory = folder,
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            start.ArgumentList.Add(serverDll);
            // Nothing of the test process's configuration may reach the server: the published appsettings.json decides.
            foreach (var name in start.Environment.Keys.Where(IsServerConfiguration).ToList())
            {
                start.Environment.Remove(name);
            }

            start.Environment["ASPNETCORE_URLS"] = address.ToString();
            start.Environment["ConnectionStrings__Tollgate"] = "Data Source=" + Path.Combine(folder, "tollgate.db");
            start.Environment["Tollgate__Usage__SpoolPath"] = Path.Combine(folder, "usage-spool");
            start.Environment["Tollgate__Admin__Password"] = adminPassword;

            var clock = Stopwatch.StartNew();
            var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start dotnet.");
            var server = new PublishedServer(process, folder, address);
            process.OutputDataReceived += (_, e) => server.Remember(e.Data);
            process.ErrorDataReceived += (_, e) => server.Remember(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            server.StartWatchdog();

            if (server.WaitUntilHealthy(TimeSpan.FromSeconds(60)))
            {
                server.StartupTime = clock.Elapsed;
                return server;
            }

            var exited = process.HasExited;
            server.Dispose();
            if (!exited || attempt == 3)
            {
                throw new InvalidOperationException(
                    $"The published server did not answer /healthz on {address} ({(exited ? "it exited" : "no answer in 60 s")}). Its output:\n{server.Output}");
            }
        }
    }

    /// <summary>Sends SIGTERM, as systemd and container runtimes do, and answers the exit code, or null if it did not exit in time.</summary>
    public int? Terminate(TimeSpan timeout)
    {
        Signal(_process.Id, "TERM");
        if (!_process.WaitForExit(timeout))
        {
            return null;
        }

        _process.WaitForExit(); // the rest of the redirected output
        return _process.ExitCode;
    }

    /// <summary>Kills the server if it still runs and deletes its folder.</summary>
    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(TimeSpan.FromSeconds(10));
        }

        _process.Dispose();
        PublishedOutput.TryDelete(WorkingDirectory);
        if (_watchdog is { HasExited: false })
        {
            _watchdog.Kill();
            _watchdog.WaitForExit(TimeSpan.FromSeconds(5));
        }

        _watchdog?.Dispose();
    }

    private static bool IsServerConfiguration(string name) =>
        name.StartsWith("ASPNETCORE_", StringComparison.OrdinalIgnoreCase)
        || name.Equals("DOTNET_ENVIRONMENT", StringComparison.OrdinalIgnoreCase)
        || name.Equals("DOTNET_CONTENTROOT", StringComparison.OrdinalIgnoreCase)
        || name.StartsWith("Logging__", StringComparison.OrdinalIgnoreCase)
        || name.StartsWith("Tollgate__", StringComparison.OrdinalIgnoreCase)
        || name.StartsWith("ConnectionStrings__", StringComparison.OrdinalIgnoreCase)
        || name.StartsWith("OTEL_", StringComparison.OrdinalIgnoreCase);

    private bool WaitUntilHealthy(TimeSpan timeout)
    {
        using var client = new HttpClient { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(2) };
        var deadline = Stopwatch.StartNew();
        while (!_process.HasExited && deadline.Elapsed < timeout)
        {
            try
            {
                using var response = client.GetAsync(new Uri("/healthz", UriKind.Relative)).GetAwaiter().GetResult();
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return true;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (TaskCanceledException)
            {
            }

            Thread.Sleep(100);
        }

        return false;
    }

    private void Remember(string? line)
    {
        if (line is not null)
        {
            _output.Enqueue(line);
        }
    }

    /// <summary>A shell that waits for this test process to end, however it ends, then stops the server and deletes its folder.</summary>
    private void StartWatchdog()
    {
        var pid = _process.Id;
        var script =
            $"while kill -0 {Environment.ProcessId} 2>/dev/null; do sleep 1; done; " +
            $"kill -TERM {pid} 2>/dev/null; for i in $(seq 1 20); do kill -0 {pid} 2>/dev/null || break; sleep 1; done; " +
            $"kill -KILL {pid} 2>/dev/null; rm -rf '{WorkingDirectory}'";
        var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(script);
        _watchdog = Process.Start(start);
    }

    private static void Signal(int pid, string signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", [$"-{signal}", pid.ToString(CultureInfo.InvariantCulture)]) { UseShellExecute = false });
        kill?.WaitForExit(TimeSpan.FromSeconds(5));
    }
}
