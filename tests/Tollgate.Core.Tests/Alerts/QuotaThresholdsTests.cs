using Tollgate.Alerts;
using Tollgate.Usage;

namespace Tollgate.Core.Tests.Alerts;

public sealed class QuotaThresholdsTests
{
    private static readonly DateTime Start = new(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc);
    private static readonly int[] Both = [80, 100];

    private static QuotaUsage After(long used, long limit) => new(used, limit, QuotaPeriod.Month, Start, Start.AddMonths(1));

    [Fact]
    public void QuotaOfTen_OnlyTheEighthAndTenthRequestsCross()
    {
        var crossed = Enumerable.Range(1, 10).Select(used => QuotaThresholds.Crossed(Both, After(used, 10), 1)).ToList();
        Assert.Equal([8, 10], crossed.Select((c, i) => (c, i)).Where(x => x.c is not null).Select(x => x.i + 1));
        Assert.Equal([80], crossed[7]!.Thresholds);
        Assert.Equal([100], crossed[9]!.Thresholds);
    }

    [Fact]
    public void OneCostlyRequest_CrossesEveryThresholdItJumpsOver()
    {
        var crossing = QuotaThresholds.Crossed(Both, After(10, 10), 3);
        Assert.Equal(Both, crossing!.Thresholds);
        Assert.Null(QuotaThresholds.Crossed(Both, After(7, 10), 3)); // 4 → 7: below 80 %
    }

    [Fact]
    public void Thresholds_AreValidatedAndStoredAsText()
    {
        Assert.Null(QuotaThresholds.Problem(Both));
        Assert.NotNull(QuotaThresholds.Problem([]));
        Assert.NotNull(QuotaThresholds.Problem([0]));
        Assert.NotNull(QuotaThresholds.Problem([101]));
        Assert.NotNull(QuotaThresholds.Problem([80, 80]));
        Assert.Equal("50,90", QuotaThresholds.Format(QuotaThresholds.Normalize([90, 50])));
        Assert.Equal([50, 90], QuotaThresholds.Parse("50,90"));
    }

    [Fact]
    public void SpooledEvent_KeepsItsCrossing_AndAFormat3SpoolIsStillRead()
    {
        var e = new UsageEvent(1, 2, Start, "GET", "/api/v1/ping", 200, 100, LimitOutcome.Admitted, QuotaPeriod.Month, Start)
        {
            Crossing = new QuotaCrossing(8, 10, [80]),
        };
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            UsageEventCodec.Write(writer, e);
            UsageEventCodec.Write(writer, e with { Crossing = null });
        }

        stream.Position = 0;
        using var reader = new BinaryReader(stream);
        var read = UsageEventCodec.Read(reader);
        Assert.Equal((8L, 10L), (read.Crossing!.Used, read.Crossing.Limit));
        Assert.Equal([80], read.Crossing.Thresholds);
        Assert.Null(UsageEventCodec.Read(reader).Crossing);

        // Format 3 had no crossing after the event's fields (format 4 adds one byte for an event without): what a build
        // before this one spooled reads unchanged.
        using var old = new MemoryStream();
        using (var writer = new BinaryWriter(old, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            UsageEventCodec.Write(writer, e with { Crossing = null });
        }

        old.Position = 0;
        using var oldReader = new BinaryReader(new MemoryStream(old.ToArray()[..^1]));
        var event3 = UsageEventCodec.Read(oldReader, 3);
        Assert.Null(event3.Crossing);
        Assert.Equal(e.Endpoint, event3.Endpoint);
        Assert.Equal(oldReader.BaseStream.Length, oldReader.BaseStream.Position);
    }
}
