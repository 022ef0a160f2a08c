using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Tollgate.AspNetCore.Tests.Embedding;

/// <summary>
/// The published sample app running as a process of its own, as a team would run its API: `dotnet Orders.dll`,
/// configured by environment variables, on a loopback port the OS picks. Disposing it kills it with its children.
/// </summary>
internal sealed partial class SampleProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ProcessWatchdog _watchdog;
    private readonly ConcurrentQueue<string> _output = new();
    private readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private SampleProcess(Process process)
    {
        _process = process;
        _watchdog = ProcessWatchdog.KillWhenDone(process.Id);
    }

    /// <summary>Where the app listens, once <see cref="StartAsync"/> returned.</summary>
    public Uri Address { get; private set; } = null!;

    /// <summary>Everything the app wrote so far, for failure messages.</summary>
    public string Output => string.Join('\n', _output);

    /// <summary>True once the process ended.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>The exit code, once ended.</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>
    /// Starts <paramref name="appDll"/> with <paramref name="settings"/> (configuration keys, e.g. <c>Tollgate:Redis</c>)
    /// in <paramref name="workingDirectory"/>, without waiting for it.
    /// </summary>
    public static SampleProcess Start(string appDll, string workingDirectory, IReadOnlyDictionary<string, string> settings)
    {
        var start = DotnetCommand.StartInfo(workingDirectory, appDll);
        start.Environment["ASPNETCORE_URLS"] = "http://127.0.0.1:0";
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        // Lifetime logs say where the app listens; the rest of the console stays for errors.
        start.Environment["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information";
        foreach (var (key, value) in settings)
        {
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        process.Start();
        var sample = new SampleProcess(process);
        process.OutputDataReceived += (_, e) => sample.Remember(e.Data);
        process.ErrorDataReceived += (_, e) => sample.Remember(e.Data);
        process.Exited += (_, _) => sample._listening.TrySetException(
            new InvalidOperationException($"The sample exited with code {process.ExitCode} before it listened:\n{sample.Output}"));
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return sample;
    }

    /// <summary>Starts the app and waits until it listens; fails with its output when it exits or takes longer than 60 s.</summary>
    public static async Task<SampleProcess> StartListeningAsync(string appDll, string workingDirectory, IReadOnlyDictionary<string, string> settings)
    {
        var sample = Start(appDll, workingDirectory, settings);
        try
        {
            sample.Address = await sample._listening.Task.WaitAsync(TimeSpan.FromSeconds(60));
            return sample;
        }
        catch
        {
            await sample.DisposeAsync();
            throw;
        }
    }

    /// <summary>Waits for the process to end by itself; kills it and fails after <paramref name="timeout"/>.</summary>
    public async Task WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            throw new InvalidOperationException($"The sample still runs after {timeout}:\n{Output}");
        }

        // The exit can come before the last lines of output: WaitForExit without a timeout waits for both streams.
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            }
        }
        catch (InvalidOperationException)
        {
            // Never started or already gone.
        }
        finally
        {
            _process.Dispose();
            _watchdog.Dispose();
        }
    }

    private void Remember(string? line)
    {
        if (line is null)
        {
            return;
        }

        _output.Enqueue(line);
        if (ListeningLine().Match(line) is { Success: true } match)
        {
            _listening.TrySetResult(new Uri(match.Groups[1].Value));
        }
    }

    [GeneratedRegex(@"Now listening on: (http://127\.0\.0\.1:\d+)")]
    private static partial Regex ListeningLine();
}
