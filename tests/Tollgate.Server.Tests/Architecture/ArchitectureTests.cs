using ArchUnitNET.Loader;
using ArchUnitNET.xUnit;
using static ArchUnitNET.Fluent.Slices.SliceRuleDefinition;

namespace Tollgate.Server.Tests.Architecture;

/// <summary>
/// The layering of issue 10, checked on the compiled assemblies: the engine (Tollgate.Core) and the request path
/// (Tollgate.AspNetCore) reference no database provider, no Redis and nothing of the server; their namespaces have no
/// circles between them.
/// </summary>
public sealed class ArchitectureTests
{
    private static readonly System.Reflection.Assembly Core = typeof(Tollgate.Data.TollgateDbContext).Assembly;
    private static readonly System.Reflection.Assembly AspNetCore = typeof(Tollgate.Metering.MeteringMetadata).Assembly;

    private static readonly ArchUnitNET.Domain.Architecture Engine = new ArchLoader().LoadAssemblies(Core, AspNetCore).Build();

    /// <summary>Assemblies only a storage, Redis or server package may reference.</summary>
    private static readonly string[] Forbidden =
    [
        "Microsoft.Data.Sqlite", "Microsoft.EntityFrameworkCore.Sqlite", "Npgsql", "Npgsql.EntityFrameworkCore.PostgreSQL",
        "MySql.Data", "MySql.EntityFrameworkCore", "StackExchange.Redis", "Yarp.ReverseProxy", "Tollgate.Server",
        "Tollgate.Redis", "Tollgate.Storage.Sqlite", "Tollgate.Storage.Postgres", "Tollgate.Storage.MySql",
    ];

    [Fact]
    public void TheEngine_ReferencesNoProviderNoRedisAndNoServer()
    {
        foreach (var assembly in new[] { Core, AspNetCore })
        {
            var references = assembly.GetReferencedAssemblies().Select(a => a.Name!).ToList();
            Assert.Empty(references.Intersect(Forbidden));
        }

        Assert.DoesNotContain(Core.GetReferencedAssemblies(), a => a.Name == AspNetCore.GetName().Name);
    }

    [Fact]
    public void TheEngineNamespaces_HaveNoCircles() =>
        // Tollgate.Data, .Keys, .Limits, .Usage, .Changes and .Metering (the root namespace holds the shared values and
        // depends on none of them).
        Slices().Matching("Tollgate.(*)").Should().BeFreeOfCycles().Check(Engine);

    [Fact]
    public void TheRootNamespace_DependsOnNoOtherTollgateNamespace()
    {
        var root = Engine.Types.Where(t => t.Namespace.FullName == "Tollgate").ToList();
        Assert.NotEmpty(root);
        foreach (var type in root)
        {
            var inner = type.Dependencies.Select(d => d.Target.Namespace.FullName)
                .Where(n => n.StartsWith("Tollgate.", StringComparison.Ordinal)).Distinct().ToList();
            Assert.True(inner.Count == 0, $"{type.FullName} depends on {string.Join(", ", inner)}");
        }
    }
}
