using System.Threading.Channels;
using Microsoft.Extensions.Options;

namespace Tollgate.Usage;

/// <summary>
/// The bounded queue between the request path and the <see cref="UsageWriter"/>: many writers, one reader.
/// When full, producers wait (<see cref="BoundedChannelFullMode.Wait"/>) — nothing is dropped.
/// </summary>
public sealed class UsageQueue : IUsageSink
{
    private readonly Channel<UsageEvent> _channel;

    /// <summary>Creates the queue with the configured capacity.</summary>
    public UsageQueue(IOptions<UsageOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
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

    /// <summary>The reading side, for the writer.</summary>
    internal ChannelReader<UsageEvent> Reader => _channel.Reader;

    /// <inheritdoc />
    public ValueTask RecordAsync(UsageEvent usageEvent) =>
        _channel.Writer.TryWrite(usageEvent) ? default : _channel.Writer.WriteAsync(usageEvent);

    /// <summary>Accepts no more events; the writer stops once it has stored what is queued.</summary>
    internal void Complete() => _channel.Writer.TryComplete();
}
