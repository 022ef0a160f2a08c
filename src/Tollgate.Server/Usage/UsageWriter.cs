using Microsoft.Extensions.Options;

namespace Tollgate.Usage;

/// <summary>
/// The one reader of the <see cref="UsageQueue"/>: takes whatever has accumulated (up to a batch), feeds the live
/// counters and stores the batch in one transaction. After a batch that was not full it lets events gather for
/// <see cref="UsageOptions.FlushInterval"/>; under heavy load batches fill and follow each other at once, which is
/// what keeps the rows per second high. On a graceful stop it writes everything still queued before the process
/// exits.
/// </summary>
/// <remarks>
/// When the database cannot take a batch (down, full, read-only, slower than <see cref="UsageOptions.StorageTimeout"/>)
/// the batch goes to the <see cref="UsageSpool"/> on local disk, and so does every later batch until the spool is
/// replayed, oldest first, into the database: the order of the batches is the order of their sequence numbers, which
/// is what lets a store recognise a batch it already has (<see cref="UsageBatchMark"/>). When the spool fails too,
/// <see cref="UsageOptions.WhenStorageFails"/> decides: Refuse keeps the batches in memory, in order, and has the request
/// path refuse new requests; Admit keeps only their aggregates and counts the raw rows it drops. The queue is drained
/// whatever happens, so a request never waits on storage longer than <see cref="UsageOptions.MaxRecordWait"/>.
/// </remarks>
internal sealed partial class UsageWriter(
    UsageQueue queue,
    IUsageBatchStore store,
    UsageSpool spool,
    UsageStorageStatus status,
    LiveUsageTracker live,
    IOptions<UsageOptions> options,
    Operations.TollgateMetrics metrics,
    TimeProvider time,
    ILogger<UsageWriter> logger) : BackgroundService
{
    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(100);

    // While a backlog is spooled, each spooled batch holds this much traffic: the replay stores the batches one
    // transaction each, and batches of whatever arrived since the last one (a few hundred events) replayed slower than
    // new ones came in (PostgreSQL, 20,000 requests/s: the spool grew for 30 s after the database was back). An fsync
    // ten times a second costs the disk nothing; the queue holds far more than 100 ms of traffic.
    private static readonly TimeSpan SpoolGatherInterval = TimeSpan.FromMilliseconds(100);

    // Detects a database that answers again within a second, without hammering one that does not.
    private static readonly TimeSpan LongestRetryDelay = TimeSpan.FromSeconds(1);

    // Never disposed on purpose: under WebApplicationFactory the host can be disposed before a second StopAsync,
    // and a CancellationTokenSource without a timer holds nothing that needs disposing.
    private readonly CancellationTokenSource _stopping = new();

    // A new id per process start: sequence numbers then never need to survive a restart.
    private readonly string _writerId = Guid.NewGuid().ToString("N");
    private readonly Queue<UsageBatch> _held = new();
    private readonly Queue<UsageBatch> _dropped = new();
    private readonly StorageFailurePolicy _policy = options.Value.WhenStorageFails;
    private readonly TimeSpan _storageTimeout = options.Value.StorageTimeout;
    private long _sequence;
    private long _written;
    private TimeSpan _retryDelay = FirstRetryDelay;
    private long _nextRetry;
    private UsageBatch? _replay;
    private bool _replayOneAtATime;

    /// <summary>Events stored since start (in the database or, during an outage, in the spool).</summary>
    public long Written => Interlocked.Read(ref _written);

    /// <summary>The writer's id in <c>usage_writer_marks</c>.</summary>
    internal string WriterId => _writerId;

    private bool HasBacklog => _held.Count > 0 || _dropped.Count > 0 || spool.HasPending;

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
        PublishState();
        // The loop ignores stoppingToken on purpose: it ends when the queue is completed and empty.
        while (await WaitForWorkAsync())
        {
            while (batch.Count < batchSize && queue.TryTake(out var e))
            {
                batch.Add(e);
                live.Record(e);
            }

            var full = batch.Count >= batchSize;
            if (!batch.IsEmpty)
            {
                batch.Mark = new UsageBatchMark(_writerId, ++_sequence);
                batch = await StoreAsync(batch, batchSize);
            }

            if (queue.TakeDropped() is { } dropped)
            {
                dropped.Mark = new UsageBatchMark(Guid.NewGuid().ToString("N"), 1);
                _dropped.Enqueue(dropped);
            }

            if (HasBacklog && time.GetTimestamp() >= _nextRetry)
            {
                await RetryBacklogAsync(batchSize);
            }

            PublishState();
            var pause = HasBacklog ? SpoolGatherInterval : flushInterval;
            if (!full && pause > TimeSpan.Zero)
            {
                await Task.Delay(pause, time, _stopping.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }

        // Stopping: one last attempt at what is not stored yet. The spool stays on disk for the next start.
        if (HasBacklog)
        {
            await RetryBacklogAsync(batchSize);
            PublishState();
        }

        var lost = _held.Sum(b => (long)b.Count);
        if (lost > 0)
        {
            LogLostOnStop(logger, lost);
        }
    }

    /// <summary>Waits for events or, with a backlog, for the next retry; false once the queue is completed and empty.</summary>
    private async Task<bool> WaitForWorkAsync()
    {
        if (!HasBacklog)
        {
            return await queue.Reader.WaitToReadAsync(CancellationToken.None);
        }

        var wait = time.GetElapsedTime(time.GetTimestamp(), _nextRetry);
        if (wait <= TimeSpan.Zero || queue.Reader.TryPeek(out _))
        {
            return true;
        }

        using var timeout = new CancellationTokenSource(wait, time);
        try
        {
            return await queue.Reader.WaitToReadAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            return !queue.Reader.Completion.IsCompleted;
        }
    }

    /// <summary>Stores, spools, holds or drops the batch; returns the batch object to fill next.</summary>
    private async Task<UsageBatch> StoreAsync(UsageBatch batch, int batchSize)
    {
        // Straight to the database only when nothing older waits: the batches reach it in sequence order.
        if (_held.Count == 0 && !spool.HasPending)
        {
            var outcome = await TryWriteDatabaseAsync(batch);
            if (outcome == WriteOutcome.Stored)
            {
                Recorded(batch);
                batch.Clear();
                return batch;
            }

            if (outcome == WriteOutcome.Abandoned)
            {
                // The store may still be reading it; this object is never filled again.
                Divert(batch);
                return new UsageBatch(batchSize);
            }
        }

        if (Divert(batch))
        {
            batch.Clear();
            return batch;
        }

        return new UsageBatch(batchSize);
    }

    /// <summary>Spools the batch, or holds or drops it; true when the batch object may be reused.</summary>
    private bool Divert(UsageBatch batch)
    {
        if (_held.Count == 0 && TryAppendToSpool(batch))
        {
            Recorded(batch);
            return true;
        }

        if (_policy == StorageFailurePolicy.Admit)
        {
            var aggregates = new UsageBatch { Mark = new UsageBatchMark(Guid.NewGuid().ToString("N"), 1) };
            foreach (var e in batch.Events)
            {
                aggregates.AddWithoutRow(e);
                e.Receipt?.Complete();
            }

            status.Dropped(batch.Count);
            LogDropped(logger, batch.Count);
            _dropped.Enqueue(aggregates);
            return true;
        }

        _held.Enqueue(batch);
        return false;
    }

    /// <summary>Replays the spool, then the held batches, then the aggregates of dropped rows, while storage takes them.</summary>
    private async Task RetryBacklogAsync(int batchSize)
    {
        var failed = false;
        var slice = time.GetTimestamp();
        while (spool.HasPending && !failed)
        {
            _replay ??= new UsageBatch(batchSize);
            // Several spooled batches in one transaction, unless the last try found part of such a range stored
            // (a commit whose answer was lost): then the oldest alone, which its mark skips.
            var read = spool.ReadOldest(_replay, _replayOneAtATime ? 1 : batchSize);
            spool.BeginReplay();
            var outcome = await TryWriteDatabaseAsync(_replay);
            var partlyStored = outcome == WriteOutcome.Stored && _replay.AlreadyStored && read > 1;
            spool.EndReplay(outcome == WriteOutcome.Stored && !partlyStored ? read : 0);
            _replayOneAtATime = partlyStored;
            if (outcome == WriteOutcome.Abandoned)
            {
                _replay = null;
            }

            failed = outcome != WriteOutcome.Stored;
            if (!failed && !spool.HasPending)
            {
                LogReplayed(logger);
            }

            // Back to the queue now and then, so that a long replay never keeps new events waiting.
            if (time.GetElapsedTime(slice) > TimeSpan.FromMilliseconds(500))
            {
                return;
            }
        }

        while (_held.TryPeek(out var held))
        {
            var recorded = spool.HasPending
                ? TryAppendToSpool(held)
                : await TryWriteDatabaseAsync(held) == WriteOutcome.Stored || TryAppendToSpool(held);
            if (!recorded)
            {
                failed = true;
                break;
            }

            _held.Dequeue();
            Recorded(held);
        }

        while (!failed && _dropped.TryPeek(out var aggregates))
        {
            if (await TryWriteDatabaseAsync(aggregates) != WriteOutcome.Stored)
            {
                failed = true;
                break;
            }

            _dropped.Dequeue();
        }

        if (failed)
        {
            _nextRetry = time.GetTimestamp() + (long)(_retryDelay.TotalSeconds * time.TimestampFrequency);
            _retryDelay = TimeSpan.FromTicks(Math.Min(_retryDelay.Ticks * 2, LongestRetryDelay.Ticks));
        }
        else
        {
            _retryDelay = FirstRetryDelay;
        }
    }

    private async Task<WriteOutcome> TryWriteDatabaseAsync(UsageBatch batch)
    {
        using var timeout = new CancellationTokenSource(_storageTimeout, time);
        var write = store.WriteAsync(batch, timeout.Token);
        try
        {
            // WaitAsync as well as the token: not every driver call honours cancellation (SQLite's are synchronous).
            await write.WaitAsync(_storageTimeout, time);
            return WriteOutcome.Stored;
        }
        catch (TimeoutException)
        {
            LogWriteTimedOut(logger, batch.Count, _storageTimeout);
            _ = write.ContinueWith(static t => _ = t.Exception, TaskScheduler.Default); // observed, never rethrown
            return WriteOutcome.Abandoned;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The first failure says why; the retries of an outage that goes on would repeat it every second.
            if (HasBacklog)
            {
                LogRetryFailed(logger, batch.Count, ex.Message);
            }
            else
            {
                LogWriteFailed(logger, ex, batch.Count);
            }

            return WriteOutcome.Failed;
        }
    }

    private bool TryAppendToSpool(UsageBatch batch)
    {
        if (batch.Count == 0)
        {
            return false; // aggregates only: they wait for the database
        }

        try
        {
            spool.Append(batch);
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogSpoolFailed(logger, ex, batch.Count, spool.FilePath);
            return false;
        }
    }

    /// <summary>The batch is in the database or in the spool: its requests may be answered.</summary>
    private void Recorded(UsageBatch batch)
    {
        foreach (var e in batch.Events)
        {
            e.Receipt?.Complete();
        }

        Interlocked.Add(ref _written, batch.Count);
        metrics.Stored(batch);
    }

    private void PublishState()
    {
        var state = _held.Count > 0 ? UsageStorageState.Refusing
            : _dropped.Count > 0 ? UsageStorageState.Dropping
            : spool.HasPending ? UsageStorageState.Spooling
            : UsageStorageState.Healthy;
        if (status.Set(state, spool.PendingEvents, time.GetUtcNow().UtcDateTime))
        {
            LogState(logger, state, spool.PendingEvents);
        }
    }

    private enum WriteOutcome
    {
        Stored,
        Failed,
        Abandoned,
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Storing {Count} usage events in the database failed; they go to the spool")]
    private static partial void LogWriteFailed(ILogger logger, Exception exception, int count);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Storing {Count} spooled or held usage events failed again: {Reason}")]
    private static partial void LogRetryFailed(ILogger logger, int count, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Storing {Count} usage events took longer than {Timeout}; they go to the spool")]
    private static partial void LogWriteTimedOut(ILogger logger, int count, TimeSpan timeout);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Spooling {Count} usage events to {Path} failed as well")]
    private static partial void LogSpoolFailed(ILogger logger, Exception exception, int count, string path);

    [LoggerMessage(Level = LogLevel.Error, Message = "Neither the database nor the spool takes usage events: {Count} raw rows dropped (WhenStorageFails=Admit)")]
    private static partial void LogDropped(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Usage storage is now {State} ({Spooled} events in the spool)")]
    private static partial void LogState(ILogger logger, UsageStorageState state, long spooled);

    [LoggerMessage(Level = LogLevel.Information, Message = "The spool is replayed into the database")]
    private static partial void LogReplayed(ILogger logger);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Stopped with {Count} usage events that neither the database nor the spool took: they are lost")]
    private static partial void LogLostOnStop(ILogger logger, long count);

    [LoggerMessage(Level = LogLevel.Information, Message = "Usage writer stopped after storing {Written} events")]
    private static partial void LogStopped(ILogger logger, long written);
}
