namespace Tollgate;

/// <summary>
/// The fixed latency buckets shared by the roll-ups, the live counters and the percentile readers.
/// Counts are per bucket (not cumulative), so two histograms add column by column, which is what lets the
/// database merge them in an upsert (<c>le_1ms = le_1ms + excluded.le_1ms</c>) with any number of writers.
/// </summary>
public static class LatencyHistogram
{
    /// <summary>Inclusive upper bounds of the buckets in microseconds; the last bucket is unbounded.</summary>
    public static ReadOnlySpan<long> UpperBoundsMicros =>
    [
        50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000,
        100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000,
    ];

    /// <summary>Number of buckets, the unbounded one included.</summary>
    public const int BucketCount = 18;

    /// <summary>The database column of each bucket, in bucket order.</summary>
    public static IReadOnlyList<string> ColumnNames { get; } =
    [
        "le_50us", "le_100us", "le_250us", "le_500us", "le_1ms", "le_2_5ms", "le_5ms", "le_10ms", "le_25ms",
        "le_50ms", "le_100ms", "le_250ms", "le_500ms", "le_1s", "le_2_5s", "le_5s", "le_10s", "le_inf",
    ];

    /// <summary>The bucket a latency falls into.</summary>
    public static int BucketOf(long micros)
    {
        var bounds = UpperBoundsMicros;
        for (var i = 0; i < bounds.Length; i++)
        {
            if (micros <= bounds[i])
            {
                return i;
            }
        }

        return BucketCount - 1;
    }

    /// <summary>
    /// Estimates a percentile (0–100) in milliseconds from bucket counts, interpolating linearly inside the
    /// bucket as Prometheus' <c>histogram_quantile</c> does. Null when there are no samples.
    /// </summary>
    public static double? PercentileMs(ReadOnlySpan<long> counts, double percentile)
    {
        long total = 0;
        foreach (var c in counts)
        {
            total += c;
        }

        if (total == 0)
        {
            return null;
        }

        var rank = percentile / 100.0 * total;
        var bounds = UpperBoundsMicros;
        long seen = 0;
        for (var i = 0; i < counts.Length; i++)
        {
            if (counts[i] == 0)
            {
                continue;
            }

            if (seen + counts[i] >= rank)
            {
                var lower = i == 0 ? 0 : bounds[i - 1];
                // The unbounded bucket has no upper edge: report its lower edge rather than invent one.
                var upper = i < bounds.Length ? bounds[i] : lower;
                var fraction = (rank - seen) / counts[i];
                return Math.Round((lower + (upper - lower) * fraction) / 1000.0, 3);
            }

            seen += counts[i];
        }

        return bounds[^1] / 1000.0;
    }
}
