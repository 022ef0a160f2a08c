using Tollgate.Testing;

namespace Tollgate.Server.Tests;

/// <summary>See <see cref="MetricsCollection"/>.</summary>
[CollectionDefinition(MetricsCollection.Name, DisableParallelization = true)]
public sealed class MetricsCollectionDefinition;

/// <summary>See <see cref="TwoInstances.Collection"/>.</summary>
[CollectionDefinition(TwoInstances.Collection)]
public sealed class TwoInstancesCollection;

/// <summary>
/// Tests whose figures are times on this machine (the overview's first render at 100,000 tenants) run alone, after the
/// parallel ones: beside another test class on a two-core machine the same render took 2.3 s instead of 0.9 s.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TimedCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "Timed";
}
