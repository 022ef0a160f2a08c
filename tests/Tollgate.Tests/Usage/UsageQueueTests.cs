using Microsoft.Extensions.Options;
using Tollgate.Limits;
using Tollgate.Usage;

namespace Tollgate.Tests.Usage;

public sealed class UsageQueueTests
{
    private static UsageEvent Event(int n) =>
        new(1, 1, DateTime.UnixEpoch.AddSeconds(n), "GET", "/api/v1/ping", 200, 100, LimitOutcome.Admitted, QuotaPeriod.Month, DateTime.UnixEpoch);

    [Fact]
    public async Task Full_ProducersWaitForRoom_NothingIsDropped()
    {
        var queue = new UsageQueue(Options.Create(new UsageOptions { QueueCapacity = 3 }));
        for (var i = 0; i < 3; i++)
        {
            var write = queue.RecordAsync(Event(i)).AsTask();
            Assert.True(write.IsCompletedSuccessfully);
        }

        var waiting = queue.RecordAsync(Event(3)).AsTask();
        await Task.Delay(50);
        Assert.False(waiting.IsCompleted);

        Assert.True(queue.Reader.TryRead(out var first));
        Assert.Equal(Event(0), first);
        await waiting.WaitAsync(TimeSpan.FromSeconds(5));

        var rest = new List<UsageEvent>();
        while (queue.Reader.TryRead(out var e))
        {
            rest.Add(e);
        }

        Assert.Equal([Event(1), Event(2), Event(3)], rest);
    }
}
