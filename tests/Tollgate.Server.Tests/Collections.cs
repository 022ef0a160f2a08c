using Tollgate.Testing;

namespace Tollgate.Server.Tests;

/// <summary>See <see cref="MetricsCollection"/>.</summary>
[CollectionDefinition(MetricsCollection.Name, DisableParallelization = true)]
public sealed class MetricsCollectionDefinition;

/// <summary>See <see cref="TwoInstances.Collection"/>.</summary>
[CollectionDefinition(TwoInstances.Collection)]
public sealed class TwoInstancesCollection;
