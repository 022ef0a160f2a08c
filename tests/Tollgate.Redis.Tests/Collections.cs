using Tollgate.Testing;

namespace Tollgate.Redis.Tests;

/// <summary>See <see cref="TwoInstances.Collection"/>.</summary>
[CollectionDefinition(TwoInstances.Collection)]
public sealed class TwoInstancesCollection;
