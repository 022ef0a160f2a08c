using System.Collections.Concurrent;
using System.Threading.Channels;
using Tollgate.Limits;
using Microsoft.Extensions.Options;

namespace Tollgate.Usage;

/// <summary>
/// The queue between the request path and the <see cref="UsageWriter"/>: many writers, one reader, bounded by slots.
/// A metered request reserves its slot before the limits count it (<see cref="TryReserve"/>), so an admitted request
/// always has room for its event, and waits for a slot at most <see cref="UsageOptions.MaxRecordWait"/>.
/// </summary>
/// <remarks>
/// The slot count is one <see cref="Interlocked"/> operation on the request path and the channel itself is unbounded
/// (the slots bound it): no allocation, and the writer never blocks a producer while it stores a batch.
/// </remarks>
public sealed class UsageQueue : IUsageSink, IUnsharedAdmissions
{
    private readonly Channel<UsageEvent> _channel;
    private readonly int _capacity;
    private readonly ConcurrentQueue<(QuotaKey Key, long Count)> _shared = new();
    private readonly TimeSpan _maxWait;
    private readonly TimeProvider _time;
    private readonly Lock _overflowGate = new();
    private UsageBatch _overflow = new();
    private long _slots;
    private long _queued;

    /// <summary>Creates the queue with the configured capacity.</summary>
    public UsageQueue(IOptions<UsageOptions> options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        _capacity = options.Value.QueueCapacity;
        _maxWait = options.Value.MaxRecordWait;
        _time = time;
        _channel = Channel.CreateUnbounded<UsageEvent>(new UnboundedChannelOptions
        {
            SingleReader = true,
            SingleWriter = false,
            // The writer's wake-up must not run inline on a request's thread.
            AllowSynchronousContinuations = false,
        });
    }

    /// <summary>Events waiting to be written.</summary>
    public int Count => (int)Math.Max(0, Interlocked.Read(ref _queued)); // the single-reader channel does not count

    /// <summary>Events the queue holds before producers wait.</summary>
    public int Capacity => _capacity;

    /// <summary>How long the oldest waiting event has waited; zero when none waits.</summary>
    public TimeSpan OldestAge(TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        return _channel.Reader.TryPeek(out var oldest) ? time.GetUtcNow().UtcDateTime - oldest.Timestamp : TimeSpan.Zero;
    }

    /// <summary>The reading side, for the writer's wait; events are taken with <see cref="TryTake"/>.</summary>
    internal ChannelReader<UsageEvent> Reader => _channel.Reader;

    /// <inheritdoc />
    public bool TryReserve()
    {
        if (Interlocked.Increment(ref _slots) <= _capacity)
        {
            return true;
        }

        Interlocked.Decrement(ref _slots);
        return false;
    }

    /// <inheritdoc />
    public async ValueTask<bool> ReserveAsync(CancellationToken cancellationToken)
    {
        // Only when the queue is full: the writer is behind or storage is failing. Polling keeps the fast path free of
        // any waiter bookkeeping; 5 ms is nothing next to the wait it ends.
        var deadline = _time.GetTimestamp() + (long)(_maxWait.TotalSeconds * _time.TimestampFrequency);
        while (!TryReserve())
        {
            if (_time.GetTimestamp() >= deadline)
            {
                return false;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(5), _time, cancellationToken);
        }

        return true;
    }

    /// <inheritdoc />
    public void Unreserve() => Interlocked.Decrement(ref _slots);

    /// <inheritdoc />
    public bool Enqueue(in UsageEvent usageEvent)
    {
        if (_channel.Writer.TryWrite(usageEvent))
        {
            Interlocked.Increment(ref _queued);
            return true;
        }

        Unreserve();
        return false;
    }

    /// <inheritdoc />
    public void Drop(in UsageEvent usageEvent)
    {
        lock (_overflowGate)
        {
            _overflow.AddWithoutRow(usageEvent);
        }
    }

    /// <inheritdoc />
    public async ValueTask RecordAsync(UsageEvent usageEvent)
    {
        while (!TryReserve())
        {
            await Task.Delay(TimeSpan.FromMilliseconds(1), _time);
        }

        if (!Enqueue(usageEvent))
        {
            throw new ChannelClosedException();
        }
    }

    /// <summary>Takes the next event and frees its slot; for the writer.</summary>
    internal bool TryTake(out UsageEvent usageEvent)
    {
        if (_channel.Reader.TryRead(out usageEvent))
        {
            Interlocked.Decrement(ref _queued);
            Interlocked.Decrement(ref _slots);
            return true;
        }

        return false;
    }

    /// <summary>The aggregates of events dropped by <see cref="Drop"/> since the last call, or null; for the writer.</summary>
    internal UsageBatch? TakeDropped()
    {
        lock (_overflowGate)
        {
            if (_overflow.IsEmpty)
            {
                return null;
            }

            var dropped = _overflow;
            _overflow = new UsageBatch();
            return dropped;
        }
    }

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
