using Microsoft.Extensions.Options;

namespace Tollgate.Usage;

/// <summary>
/// The one reader of the <see cref="UsageQueue"/>: takes whatever has accumulated (up to a batch), feeds the live
/// counters and stores the batch in one transaction. After a batch that was not full it lets events gather for
/// <see cref="UsageOptions.FlushInterval"/>; under heavy load batches fill and follow each other at once, which is
/// what keeps the rows per second high. On a graceful stop it writes everything still queued before the process
/// exits.
/// </summary>
public sealed partial class UsageWriter(
    UsageQueue queue,
    IUsageBatchStore store,
    LiveUsageTracker live,
    IOptions<UsageOptions> options,
    Operations.TollgateMetrics metrics,
    TimeProvider time,
    ILogger<UsageWriter> logger) : BackgroundService
{
    // Never disposed on purpose: under WebApplicationFactory the host can be disposed before a second StopAsync,
    // and a CancellationTokenSource without a timer holds nothing that needs disposing.
    private readonly CancellationTokenSource _stopping = new();
    private long _written;

    /// <summary>Events stored since start.</summary>
    public long Written => Interlocked.Read(ref _written);

    /// <inheritdoc />
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        // The server has stopped taking requests by now (it stops before the hosted services registered ahead of
        // it), so completing the queue loses nothing; ExecuteAsync drains it and returns.
        queue.Complete();
        // Ends a pause between batches at once: what is queued is written now, not after the interval.
        await _stopping.CancelAsync();
        if (ExecuteTask is { } running)
        {
            await running.WaitAsync(cancellationToken);
        }

        LogStopped(logger, Written);
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Runs on a thread-pool thread, not inside the host's start-up.
        await Task.Yield();
        var batchSize = options.Value.BatchSize;
        // With synchronous durability requests wait for the commit: gather nothing, write what is there (requests
        // that arrive during a write form the next batch, a natural group commit).
        var flushInterval = options.Value.Durability == UsageDurability.Synchronous ? TimeSpan.Zero : options.Value.FlushInterval;
        var batch = new UsageBatch(batchSize);
        var reader = queue.Reader;
        // The loop ignores stoppingToken on purpose: it ends when the queue is completed and empty.
        while (await reader.WaitToReadAsync(CancellationToken.None))
        {
            while (batch.Count < batchSize && reader.TryRead(out var e))
            {
                batch.Add(e);
                live.Record(e);
            }

            queue.TakeShared(batch);
            var writeStarted = time.GetTimestamp();
            using (var activity = UsageTracing.Source.StartActivity("tollgate.usage.write"))
            {
                activity?.SetTag("tollgate.usage.batch.size", batch.Count);
                await WriteWithRetryAsync(batch);
            }

            var took = time.GetElapsedTime(writeStarted);

            foreach (var e in batch.Events)
            {
                e.Receipt?.Complete();
            }

            Interlocked.Add(ref _written, batch.Count);
            metrics.Stored(batch, took);
            var full = batch.Count >= batchSize;
            batch.Clear();
            if (!full && flushInterval > TimeSpan.Zero)
            {
                await Task.Delay(flushInterval, time, _stopping.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }

        // News of shared counts that came with no event after them still goes in before the stop.
        if (queue.TakeShared(batch))
        {
            await WriteWithRetryAsync(batch);
        }
    }

    private async Task WriteWithRetryAsync(UsageBatch batch)
    {
        var delay = TimeSpan.FromMilliseconds(100);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await store.WriteAsync(batch, CancellationToken.None);
                return;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // Keep the batch and retry: while the database is away the queue fills and requests wait, which
                // is the back-pressure we want; dropping would under-count usage.
                LogWriteFailed(logger, ex, batch.Count, attempt);
                await Task.Delay(delay);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Storing {Count} usage events failed (attempt {Attempt}); retrying")]
    private static partial void LogWriteFailed(ILogger logger, Exception exception, int count, int attempt);

    [LoggerMessage(Level = LogLevel.Information, Message = "Usage writer stopped after storing {Written} events")]
    private static partial void LogStopped(ILogger logger, long written);
}
