namespace Tollgate.Testing;

/// <summary>
/// Tests that read what <c>/metrics</c> exports run on their own, after the parallel ones. OpenTelemetry's
/// MeterProvider listens to every Meter of a name in the process, not only its host's: with several hosts in one test
/// process, their measurements mix, and when another host stops, its disposed Meter ends the stream the others
/// share, so series vanish from a live host's <c>/metrics</c>. A deployment runs one host per process; the tests
/// get the same by running these alone. xunit reads a collection's definition from the test assembly only: each
/// project that uses this one declares <c>[CollectionDefinition(MetricsCollection.Name, DisableParallelization = true)]</c>.
/// </summary>
public static class MetricsCollection
{
    public const string Name = "Metrics";
}
