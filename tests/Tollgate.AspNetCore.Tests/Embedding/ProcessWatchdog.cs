using System.Diagnostics;
using System.Globalization;

namespace Tollgate.AspNetCore.Tests.Embedding;

/// <summary>
/// A shell that waits for this test process to end, however it ends (a crash, the runner's kill), then runs a clean-up
/// command: so that a sample process or a temporary folder outlives the test run in no case. Disposing it (the normal
/// path, after the test cleaned up itself) ends the shell without running the command.
/// </summary>
internal sealed class ProcessWatchdog : IDisposable
{
    private readonly Process _shell;

    private ProcessWatchdog(Process shell) => _shell = shell;

    /// <summary>
    /// Kills <paramref name="pid"/> (SIGKILL) once this test process has ended, then deletes <paramref name="folder"/>
    /// if one is given.
    /// </summary>
    public static ProcessWatchdog KillWhenDone(int pid, string? folder = null) =>
        Start($"kill -KILL {pid.ToString(CultureInfo.InvariantCulture)} 2>/dev/null" + (folder is null ? "" : $"; sleep 1; rm -rf {Quoted(folder)}"));

    /// <summary>Deletes <paramref name="folder"/> once this test process has ended.</summary>
    public static ProcessWatchdog DeleteWhenDone(string folder) => Start($"rm -rf {Quoted(folder)}");

    public void Dispose()
    {
        try
        {
            if (!_shell.HasExited)
            {
                _shell.Kill();
                _shell.WaitForExit(TimeSpan.FromSeconds(5));
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }

        _shell.Dispose();
    }

    private static string Quoted(string path) => "'" + path.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    private static ProcessWatchdog Start(string command)
    {
        var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(
            $"while kill -0 {Environment.ProcessId.ToString(CultureInfo.InvariantCulture)} 2>/dev/null; do sleep 1; done; {command}");
        return new ProcessWatchdog(Process.Start(start) ?? throw new InvalidOperationException("Could not start the watchdog shell."));
    }
}
