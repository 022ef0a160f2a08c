namespace Tollgate.Testing;

/// <summary>
/// Latencies drawn from the distributions the latency sketch is tested on, and the exact percentiles it is held to:
/// the sketch's own tests, and those of the roll-up tiers and statements that report its percentiles.
/// </summary>
public static class LatencySamples
{
    /// <summary>Nearest-rank percentiles of the values, the definition the sketch answers with.</summary>
    public static double ExactPercentileMs(long[] sorted, double percentile)
    {
        var rank = Math.Clamp((long)Math.Ceiling(percentile / 100.0 * sorted.Length), 1, sorted.Length);
        return sorted[rank - 1] / 1000.0;
    }

    /// <summary>Latencies in microseconds.</summary>
    public static long[] Sample(string distribution, int count, int seed)
    {
        var random = new Random(seed);
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        return [.. Enumerable.Range(0, count).Select(_ => distribution switch
        {
            "uniform" => 200 + random.NextInt64(20_000),
            // Web-like: median ~1.6 ms, a long right tail.
            "lognormal" => (long)Math.Exp(7.4 + 0.8 * Normal()),
            // A cache hit at ~300 µs or a miss at ~40 ms.
            "bimodal" => random.NextDouble() < 0.9 ? 250 + random.NextInt64(100) : 35_000 + random.NextInt64(10_000),
            // Heavy tail: a few requests take seconds.
            "pareto" => (long)(500 / Math.Pow(1 - random.NextDouble(), 1 / 1.2)),
            "constant" => 7_070,
            // In-process endpoints: a few microseconds.
            _ => 1 + random.NextInt64(30),
        })];
    }
}
