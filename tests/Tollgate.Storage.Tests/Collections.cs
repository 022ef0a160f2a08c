using Tollgate.Testing;

namespace Tollgate.Storage.Tests;

/// <summary>See <see cref="MetricsCollection"/>.</summary>
[CollectionDefinition(MetricsCollection.Name, DisableParallelization = true)]
public sealed class MetricsCollectionDefinition;
