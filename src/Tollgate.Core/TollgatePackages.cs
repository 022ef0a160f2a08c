using System.Reflection;

namespace Tollgate;

/// <summary>
/// Finds the entry point of an optional Tollgate package (a storage provider, Redis) that the configuration names, the
/// way EF Core's tools find a provider: by assembly and type name, so that the engine references none of them and an
/// app carries only the packages it uses.
/// </summary>
public static class TollgatePackages
{
    /// <summary>
    /// Creates <paramref name="typeName"/> from the assembly <paramref name="assembly"/> as a <typeparamref name="T"/>;
    /// null when the app does not reference that package.
    /// </summary>
    public static T? Load<T>(string assembly, string typeName)
        where T : class
    {
        Assembly loaded;
        try
        {
            loaded = Assembly.Load(new AssemblyName(assembly));
        }
        catch (FileNotFoundException)
        {
            return null;
        }

        var type = loaded.GetType(typeName, throwOnError: true)!;
        return (T)Activator.CreateInstance(type)!;
    }
}

/// <summary>An optional package's entry point that configuration switches on (Tollgate.Redis, by <c>Tollgate:Redis</c>).</summary>
public interface ITollgateExtension
{
    /// <summary>Adds the package's services, replacing the engine's in-process defaults where it shares them.</summary>
    void AddTo(IServiceCollection services, IConfiguration configuration);
}
