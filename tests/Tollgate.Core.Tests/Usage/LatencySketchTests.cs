using Tollgate.Testing;

namespace Tollgate.Core.Tests.Usage;

/// <summary>The latency sketch against the exact percentiles of the values it was given, for several distributions.</summary>
public sealed class LatencySketchTests
{
    public static TheoryData<string> Distributions => ["uniform", "lognormal", "bimodal", "pareto", "constant", "tiny"];

    [Theory]
    [MemberData(nameof(Distributions))]
    public void Percentiles_AreWithin1PercentOfTheExactOnes(string distribution)
    {
        var values = LatencySamples.Sample(distribution, 50_000, seed: 7);
        var sketch = new LatencySketch();
        foreach (var v in values)
        {
            sketch.Add(v);
        }

        Assert.Equal(values.Length, sketch.Count);
        AssertClose(values, sketch);
    }

    [Theory]
    [MemberData(nameof(Distributions))]
    public void MergedParts_EncodedAndDecoded_AnswerAsTheWhole(string distribution)
    {
        // As the tiers hold them: many small sketches (minutes, instances) merged through their stored bytes.
        var values = LatencySamples.Sample(distribution, 30_000, seed: 11);
        var merged = new LatencySketch();
        foreach (var part in values.Chunk(700))
        {
            var sketch = new LatencySketch();
            foreach (var v in part)
            {
                sketch.Add(v);
            }

            merged.Merge(sketch.Encode());
        }

        Assert.Equal(values.Length, merged.Count);
        AssertClose(values, merged);
        var whole = new LatencySketch();
        foreach (var v in values)
        {
            whole.Add(v);
        }

        Assert.Equal(whole.Encode(), merged.Encode());
    }

    [Fact]
    public void Empty_HasNoPercentile_AndEncodesSmall()
    {
        var sketch = new LatencySketch();
        Assert.Null(sketch.PercentileMs(50));
        Assert.True(sketch.Encode().Length <= 3);
        Assert.Equal(0, LatencySketch.Decode(sketch.Encode()).Count);
        Assert.Equal(0, LatencySketch.Decode([]).Count);
    }

    [Fact]
    public void ZeroAndHugeLatencies_AreCounted()
    {
        var sketch = new LatencySketch();
        sketch.Add(0, 10);
        sketch.Add(long.MaxValue);
        Assert.Equal(11, sketch.Count);
        Assert.Equal(0, sketch.PercentileMs(50));
        Assert.True(sketch.PercentileMs(100) > 1_000_000_000);
    }

    [Fact]
    public void Encoding_OfAMinuteOfTypicalTraffic_IsAFewHundredBytes()
    {
        var sketch = new LatencySketch();
        foreach (var v in LatencySamples.Sample("lognormal", 5_000, seed: 3))
        {
            sketch.Add(v);
        }

        var bytes = sketch.Encode().Length;
        Assert.InRange(bytes, 10, 1_200);
    }

    [Fact]
    public void Garbage_IsAFormatError()
    {
        Assert.Throws<FormatException>(() => LatencySketch.Decode([9, 1, 2]));
        Assert.Throws<FormatException>(() => LatencySketch.Decode([1, 0x80]));
    }

    internal static void AssertClose(long[] values, LatencySketch sketch)
    {
        var sorted = values.Order().ToArray();
        foreach (var p in new[] { 50.0, 95, 99, 99.9 })
        {
            var exact = LatencySamples.ExactPercentileMs(sorted, p);
            var estimate = sketch.PercentileMs(p)!.Value;
            // 1 % of the value, and half a microsecond for the rounding to whole microseconds.
            Assert.True(Math.Abs(estimate - exact) <= exact * LatencySketch.RelativeAccuracy + 0.0005,
                $"p{p}: exact {exact} ms, sketch {estimate} ms ({(estimate - exact) / exact:P2})");
        }
    }
}
