using System.Diagnostics;
using System.Globalization;
using System.Reflection;

namespace Tollgate.Server.Tests.Deployment;

/// <summary>
/// <c>dotnet publish</c> of the server into a temporary folder, once per test class, and one server started from it
/// in another directory, shared by the class's read-only tests. The publish reuses the build the tests were built
/// with (<c>--no-build</c>, same configuration), so it only lays out and compresses the output: about 10 s.
/// </summary>
public sealed class PublishedOutput : IDisposable
{
    private static readonly string Root = Path.Combine(Path.GetTempPath(), "tollgate-published");
    private readonly Lazy<PublishedServer> _server;

    /// <summary>Publishes the server; fails with dotnet's output if the publish fails.</summary>
    public PublishedOutput()
    {
        RemoveAbandonedFolders();
        Folder = Path.Combine(Root, $"{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}");
        PublishFolder = Path.Combine(Folder, "out");
        Directory.CreateDirectory(Folder);
        try
        {
            var clock = Stopwatch.StartNew();
            Publish(PublishFolder);
            PublishTime = clock.Elapsed;
        }
        catch
        {
            TryDelete(Folder);
            throw;
        }

        _server = new Lazy<PublishedServer>(StartServer);
    }

    /// <summary>The admin password the servers are started with.</summary>
    public const string AdminPassword = "published-admin-password";

    /// <summary>This class's temporary folder: the published output and every server's working directory.</summary>
    public string Folder { get; }

    /// <summary>The published output.</summary>
    public string PublishFolder { get; }

    /// <summary>How long <c>dotnet publish</c> took.</summary>
    public TimeSpan PublishTime { get; }

    /// <summary>The server the read-only tests share, started on first use.</summary>
    public PublishedServer Server => _server.Value;

    /// <summary>Starts another server from the published output, in a working directory of its own.</summary>
    public PublishedServer StartServer() => PublishedServer.Start(Path.Combine(PublishFolder, "Tollgate.Server.dll"), Folder, AdminPassword);

    /// <summary>Stops the shared server and deletes the folder.</summary>
    public void Dispose()
    {
        if (_server.IsValueCreated)
        {
            _server.Value.Dispose();
        }

        TryDelete(Folder);
    }

    /// <summary>Deletes a folder, leaving it to a later run if something still holds it.</summary>
    internal static void TryDelete(string folder)
    {
        try
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static void Publish(string output)
    {
        var project = Path.Combine(RepositoryRoot(), "src", "Tollgate.Server", "Tollgate.Server.csproj");
        var configuration = typeof(PublishedOutput).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        var start = new ProcessStartInfo("dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in new[] { "publish", project, "-c", configuration, "--no-build", "-o", output, "--nologo", "--disable-build-servers", "-nodeReuse:false" })
        {
            start.ArgumentList.Add(argument);
        }

        // The test host runs under `dotnet test`, whose MSBuild variables would steer this nested build.
        foreach (var name in start.Environment.Keys.Where(n => n.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            start.Environment.Remove(name);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("Could not run dotnet publish.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException("dotnet publish did not finish in 5 minutes.");
        }

        if (process.ExitCode != 0 || !File.Exists(Path.Combine(output, "Tollgate.Server.dll")))
        {
            throw new InvalidOperationException(
                $"dotnet publish failed (exit code {process.ExitCode}):\n{stdout.Result}\n{stderr.Result}");
        }
    }

    private static string RepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "Tollgate.slnx")))
            {
                return folder.FullName;
            }
        }

        throw new InvalidOperationException($"No Tollgate.slnx above {AppContext.BaseDirectory}.");
    }

    /// <summary>Deletes folders left by test processes that no longer run.</summary>
    private static void RemoveAbandonedFolders()
    {
        if (!Directory.Exists(Root))
        {
            return;
        }

        foreach (var folder in Directory.GetDirectories(Root))
        {
            var owner = Path.GetFileName(folder).Split('-')[0];
            if (int.TryParse(owner, NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                && pid != Environment.ProcessId && !Directory.Exists($"/proc/{pid}"))
            {
                TryDelete(folder);
            }
        }
    }
}
