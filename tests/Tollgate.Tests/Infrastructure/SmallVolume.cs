using System.Diagnostics;

namespace Tollgate.Tests.Infrastructure;

/// <summary>
/// A 32 MB tmpfs mounted for one test, to fill up for real: <see cref="Fill"/> writes a file until the volume says
/// ENOSPC, <see cref="Free"/> deletes it. 32 MB is less than the WAL the usage writer lets grow before a checkpoint
/// (10,000 pages, 40 MB): the WAL never starts over inside space it already has, so once the volume is full the next
/// write fails (with 64 MB it sometimes went on for seconds in the WAL's own space). Mounting needs root, which the tests have in CI (<c>.ci/run</c>); elsewhere
/// the test fails and says so. Unmounted (lazily, so an open file cannot block it) and deleted on dispose.
/// </summary>
public sealed class SmallVolume : IDisposable
{
    private SmallVolume(string path) => Path = path;

    /// <summary>The mount point.</summary>
    public string Path { get; }

    private string Filler => System.IO.Path.Combine(Path, "filler");

    /// <summary>Mounts a new volume.</summary>
    public static SmallVolume Mount()
    {
        if (Environment.UserName != "root")
        {
            throw new InvalidOperationException("This test mounts a small tmpfs and fills it, which needs root (CI runs the tests as root).");
        }

        var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "tollgate-volume-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(path);
        Run("mount", "-t", "tmpfs", "-o", "size=32m,mode=0777", "tollgate-test", path);
        return new SmallVolume(path);
    }

    /// <summary>Writes a file until the volume is full.</summary>
    public void Fill()
    {
        var chunk = new byte[256 * 1024];
        using var file = new FileStream(Filler, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0);
        try
        {
            while (true)
            {
                file.Write(chunk);
            }
        }
        catch (IOException)
        {
            // Full. Smaller writes take what is left, so that not even a page remains.
        }

        var small = new byte[512];
        try
        {
            while (true)
            {
                file.Write(small);
            }
        }
        catch (IOException)
        {
        }
    }

    /// <summary>Gives the volume its space back.</summary>
    public void Free() => File.Delete(Filler);

    /// <inheritdoc />
    public void Dispose()
    {
        Run("umount", "-l", Path);
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static void Run(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} failed: {error}");
        }
    }
}
