using System.Diagnostics;
using System.IO.Compression;
using System.Reflection;
using System.Xml.Linq;

namespace Tollgate.AspNetCore.Tests.Embedding;

/// <summary>
/// The repository packed and the sample published from those packages, as a user would do it, in a temporary folder
/// laid out like the repository (<c>artifacts/packages</c> beside <c>samples/</c>) so that the sample's own
/// NuGet.config finds the fresh packages where it finds them in a checkout. Nothing is read from, or left in, the
/// repository's <c>artifacts/</c> or the sample's <c>bin/</c> and <c>obj/</c>, and the Tollgate packages never reach
/// the machine's NuGet cache (~/.nuget/packages): restore extracts into a private folder, so a copy of the same
/// version packed earlier can never be the one the sample runs.
/// </summary>
internal sealed class SampleBuild : IDisposable
{
    private readonly ProcessWatchdog _watchdog;

    private SampleBuild(string root)
    {
        Root = root;
        _watchdog = ProcessWatchdog.DeleteWhenDone(root);
    }

    /// <summary>The temporary folder of everything below.</summary>
    public string Root { get; }

    /// <summary>Where <c>dotnet pack</c> wrote the packages.</summary>
    public string Packages => Path.Combine(Root, "artifacts", "packages");

    /// <summary>The published sample's entry assembly.</summary>
    public string AppDll => Path.Combine(Root, "app", "Orders.dll");

    /// <summary>A folder for the sample processes' working directories and spools.</summary>
    public string Work => Path.Combine(Root, "work");

    /// <summary>How long packing and publishing took, for the test output.</summary>
    public TimeSpan PackTime { get; private set; }

    /// <summary>How long publishing the sample took, restore included.</summary>
    public TimeSpan PublishTime { get; private set; }

    /// <summary>Packs the repository and publishes the sample against the packages.</summary>
    public static async Task<SampleBuild> CreateAsync()
    {
        var repository = FindRepository();
        var build = new SampleBuild(Directory.CreateTempSubdirectory("tollgate-sample-").FullName);
        try
        {
            await build.PackAndPublishAsync(repository);
            return build;
        }
        catch
        {
            build.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
        finally
        {
            _watchdog.Dispose();
        }
    }

    private async Task PackAndPublishAsync(string repository)
    {
        var version = PackageVersion(repository);
        Assert.True(
            version == SampleTollgateVersion(repository),
            $"samples/Directory.Build.props asks for Tollgate {SampleTollgateVersion(repository)}, but Directory.Build.props packs {version}: keep TollgateVersion equal to Version.");

        // The projects are already built in the configuration of this test assembly (it references them all through
        // Tollgate.Testing's server), so pack reuses those binaries (4 s) instead of building everything again in Release
        // (90 s on two cores): the packages hold exactly the code the in-process server runs.
        var watch = Stopwatch.StartNew();
        await DotnetCommand.RunAsync(repository, TimeSpan.FromMinutes(5),
            "pack", Path.Combine(repository, "Tollgate.slnx"), "-c", TestConfiguration, "--no-build", "-o", Packages, "--disable-build-servers");
        PackTime = watch.Elapsed;
        foreach (var package in (string[])["Tollgate.Core", "Tollgate.AspNetCore", "Tollgate.Storage.Sqlite", "Tollgate.Storage.Postgres", "Tollgate.Storage.MySql", "Tollgate.Redis"])
        {
            Assert.True(File.Exists(Path.Combine(Packages, $"{package}.{version}.nupkg")), $"dotnet pack wrote no {package}.{version}.nupkg");
        }

        CopySamples(Path.Combine(repository, "samples"), Path.Combine(Root, "samples"));
        Directory.CreateDirectory(Work);
        watch.Restart();
        await DotnetCommand.RunAsync(Root, TimeSpan.FromMinutes(8),
            "publish", Path.Combine(Root, "samples", "Orders", "Orders.csproj"), "-c", "Release", "-o", Path.Combine(Root, "app"),
            $"-p:RestorePackagesPath={Path.Combine(Root, "nuget-packages")}", "--disable-build-servers");
        PublishTime = watch.Elapsed;

        // The sample runs what was packed a moment ago, byte for byte, not a copy of the same version from a cache.
        foreach (var package in (string[])["Tollgate.Core", "Tollgate.AspNetCore", "Tollgate.Storage.Postgres", "Tollgate.Redis"])
        {
            using var nupkg = ZipFile.OpenRead(Path.Combine(Packages, $"{package}.{version}.nupkg"));
            var packed = nupkg.GetEntry($"lib/net10.0/{package}.dll") ?? throw new InvalidOperationException($"{package} has no lib/net10.0/{package}.dll");
            await using var packedStream = packed.Open();
            using var packedBytes = new MemoryStream();
            await packedStream.CopyToAsync(packedBytes);
            var published = await File.ReadAllBytesAsync(Path.Combine(Root, "app", $"{package}.dll"));
            Assert.True(packedBytes.ToArray().AsSpan().SequenceEqual(published), $"The published {package}.dll is not the one just packed.");
        }

        // An app on PostgreSQL carries neither the other providers nor their drivers.
        Assert.False(File.Exists(Path.Combine(Root, "app", "Tollgate.Storage.MySql.dll")));
        Assert.False(File.Exists(Path.Combine(Root, "app", "Tollgate.Storage.Sqlite.dll")));
        Assert.False(File.Exists(Path.Combine(Root, "app", "MySql.Data.dll")));
    }

    /// <summary>Debug or Release: the configuration this test assembly, and so the projects it references, was built in.</summary>
    private static string TestConfiguration =>
        typeof(SampleBuild).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration is { Length: > 0 } configuration
            ? configuration
            : "Debug";

    /// <summary>The &lt;Version&gt; that Directory.Build.props gives every package.</summary>
    private static string PackageVersion(string repository) =>
        XDocument.Load(Path.Combine(repository, "Directory.Build.props")).Descendants("Version").Single().Value.Trim();

    private static string SampleTollgateVersion(string repository) =>
        XDocument.Load(Path.Combine(repository, "samples", "Directory.Build.props")).Descendants("TollgateVersion").Single().Value.Trim();

    /// <summary>The checkout these tests were built from: the first folder above the test assembly with Tollgate.slnx.</summary>
    private static string FindRepository()
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

    /// <summary>The samples' sources and build files, without what a build in the checkout left (bin/, obj/).</summary>
    private static void CopySamples(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }

        foreach (var folder in Directory.GetDirectories(from))
        {
            var name = Path.GetFileName(folder);
            if (name is not ("bin" or "obj"))
            {
                CopySamples(folder, Path.Combine(to, name));
            }
        }
    }
}
