using Tollgate.Usage;

namespace Tollgate.Tests.Usage;

public sealed class LatencyHistogramTests
{
    [Theory]
    [InlineData(0, 0)]
    [InlineData(50, 0)]
    [InlineData(51, 1)]
    [InlineData(1_000, 4)]
    [InlineData(1_001, 5)]
    [InlineData(10_000_000, 16)]
    [InlineData(10_000_001, 17)]
    public void BucketOf_UsesInclusiveUpperBounds(long micros, int bucket) => Assert.Equal(bucket, LatencyHistogram.BucketOf(micros));

    [Fact]
    public void Columns_OnePerBucket() => Assert.Equal(LatencyHistogram.BucketCount, LatencyHistogram.ColumnNames.Count);

    [Fact]
    public void Percentile_InterpolatesInsideTheBucket()
    {
        var counts = new long[LatencyHistogram.BucketCount];
        counts[LatencyHistogram.BucketOf(800)] = 100; // (500 µs, 1 ms]
        Assert.Equal(0.75, LatencyHistogram.PercentileMs(counts, 50));
        Assert.Equal(0.975, LatencyHistogram.PercentileMs(counts, 95));
    }

    [Fact]
    public void Percentile_FindsTheTail()
    {
        var counts = new long[LatencyHistogram.BucketCount];
        counts[LatencyHistogram.BucketOf(200)] = 90;
        counts[LatencyHistogram.BucketOf(40_000)] = 10; // (25 ms, 50 ms]
        var p95 = LatencyHistogram.PercentileMs(counts, 95)!.Value;
        Assert.InRange(p95, 25, 50);
        Assert.InRange(LatencyHistogram.PercentileMs(counts, 50)!.Value, 0.1, 0.25);
    }

    [Fact]
    public void Percentile_WithoutSamples_IsNull() =>
        Assert.Null(LatencyHistogram.PercentileMs(new long[LatencyHistogram.BucketCount], 95));
}
