using System.Diagnostics;

namespace Tollgate.Testing;

/// <summary>
/// A 256 MB tmpfs mounted for one test, to fill up for real: <see cref="Fill"/> writes a file until the volume says
/// ENOSPC, <see cref="Free"/> deletes it. Large enough that what a test writes before the fill never fills it by itself
/// (CI's faster machine wrote 253,000 rows, a 33 MB WAL, in the 3 s before the fill, and filled a 32 MB volume with the
/// WAL alone: the filler got nothing, freeing it freed nothing, and the replay never found room). Mounting needs root,
/// which the tests have in CI (<c>.ci/run</c>); elsewhere the test fails and says so. Unmounted (lazily, so an open file
/// cannot block it) and deleted on dispose.
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
        Run("mount", "-t", "tmpfs", "-o", "size=256m,mode=0777", "tollgate-test", path);
        return new SmallVolume(path);
    }

    /// <summary>Writes a file until the volume is full; fails when the filler got less than half the volume.</summary>
    public void Fill()
    {
        FillCore();
        // The test's premise: the volume is full because of the filler, so that freeing it gives room back.
        var filled = new FileInfo(Filler).Length;
        if (filled < 128L * 1024 * 1024)
        {
            throw new InvalidOperationException($"The filler got only {filled:N0} bytes: the test wrote too much before the fill.");
        }
    }

    private void FillCore()
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
