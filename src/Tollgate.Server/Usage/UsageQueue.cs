using System.Collections.Concurrent;
using System.Threading.Channels;
using Tollgate.Limits;
using Microsoft.Extensions.Options;

namespace Tollgate.Usage;

/// <summary>
/// The bounded queue between the request path and the <see cref="UsageWriter"/>: many writers, one reader.
/// When full, producers wait (<see cref="BoundedChannelFullMode.Wait"/>) — nothing is dropped.
/// </summary>
public sealed class UsageQueue : IUsageSink, IUnsharedAdmissions
{
    private readonly Channel<UsageEvent> _channel;
    private readonly int _capacity;
    private readonly ConcurrentQueue<(QuotaKey Key, long Count)> _shared = new();

    /// <summary>Creates the queue with the configured capacity.</summary>
    public UsageQueue(IOptions<UsageOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _capacity = options.Value.QueueCapacity;
        _channel = Channel.CreateBounded<UsageEvent>(new BoundedChannelOptions(options.Value.QueueCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
            // Continuations of waiting producers must not run inline on the writer's thread.
            AllowSynchronousContinuations = false,
        });
    }

    /// <summary>Events waiting to be written.</summary>
    public int Count => _channel.Reader.Count;

    /// <summary>Events the queue holds before producers wait.</summary>
    public int Capacity => _capacity;

    /// <summary>How long the oldest waiting event has waited; zero when none waits.</summary>
    public TimeSpan OldestAge(TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        return _channel.Reader.TryPeek(out var oldest) ? time.GetUtcNow().UtcDateTime - oldest.Timestamp : TimeSpan.Zero;
    }

    /// <summary>The reading side, for the writer.</summary>
    internal ChannelReader<UsageEvent> Reader => _channel.Reader;

    /// <inheritdoc />
    public ValueTask RecordAsync(UsageEvent usageEvent) =>
        _channel.Writer.TryWrite(usageEvent) ? default : _channel.Writer.WriteAsync(usageEvent);

    /// <summary>
    /// Queues the news that <paramref name="count"/> unshared admissions are in the shared counter now; the writer
    /// stores it with its next batch (the order against the events themselves does not matter: both are additions).
    /// </summary>
    public void MarkShared(long tenantId, QuotaPeriod period, DateTime periodStart, long count) =>
        _shared.Enqueue((new QuotaKey(tenantId, period, periodStart), count));

    /// <summary>Moves what <see cref="MarkShared"/> queued into the batch; true when there was any.</summary>
    internal bool TakeShared(UsageBatch batch)
    {
        var any = false;
        while (_shared.TryDequeue(out var item))
        {
            batch.AddShared(item.Key, item.Count);
            any = true;
        }

        return any;
    }

    /// <summary>Accepts no more events; the writer stops once it has stored what is queued.</summary>
    internal void Complete() => _channel.Writer.TryComplete();
}
