using Microsoft.Extensions.Options;
using Tollgate.Limits;
using Tollgate.Usage;

namespace Tollgate.Core.Tests.Usage;

public sealed class UsageQueueTests
{
    private static UsageEvent Event(int n) =>
        new(1, 1, DateTime.UnixEpoch.AddSeconds(n), "GET", "/api/v1/ping", 200, 100, LimitOutcome.Admitted, QuotaPeriod.Month, DateTime.UnixEpoch);

    [Fact]
    public async Task Full_ProducersWaitForRoom_NothingIsDropped()
    {
        var queue = new UsageQueue(Options.Create(new UsageOptions { QueueCapacity = 3 }), TimeProvider.System);
        for (var i = 0; i < 3; i++)
        {
            var write = queue.RecordAsync(Event(i)).AsTask();
            Assert.True(write.IsCompletedSuccessfully);
        }

        var waiting = queue.RecordAsync(Event(3)).AsTask();
        await Task.Delay(50);
        Assert.False(waiting.IsCompleted);

        Assert.True(queue.TryTake(out var first));
        Assert.Equal(Event(0), first);
        await waiting.WaitAsync(TimeSpan.FromSeconds(5));

        var rest = new List<UsageEvent>();
        while (queue.TryTake(out var e))
        {
            rest.Add(e);
        }

        Assert.Equal([Event(1), Event(2), Event(3)], rest);
    }

    [Fact]
    public async Task Full_ARequestWaitsForRoomAtMostMaxRecordWait_ThenIsToldThereIsNone()
    {
        var queue = new UsageQueue(
            Options.Create(new UsageOptions { QueueCapacity = 2, MaxRecordWait = TimeSpan.FromMilliseconds(200) }), TimeProvider.System);
        Assert.True(queue.TryReserve());
        Assert.True(queue.TryReserve());
        Assert.False(queue.TryReserve());

        var watch = System.Diagnostics.Stopwatch.StartNew();
        Assert.False(await queue.ReserveAsync(CancellationToken.None));
        Assert.InRange(watch.ElapsedMilliseconds, 150, 2000);

        // A slot freed while a request waits is taken by it.
        var waiting = queue.ReserveAsync(CancellationToken.None).AsTask();
        queue.Unreserve();
        Assert.True(await waiting.WaitAsync(TimeSpan.FromSeconds(5)));
    }
}
