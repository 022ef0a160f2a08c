using Microsoft.Extensions.Options;

namespace Tollgate.Usage;

/// <summary>
/// The one reader of the <see cref="UsageQueue"/>: takes whatever has accumulated (up to a batch), feeds the live
/// counters and stores the batch in one transaction. After a batch that was not full it lets events gather for
/// <see cref="UsageOptions.FlushInterval"/> (<see cref="UsageOptions.QuietFlushInterval"/> after a small one); under
/// heavy load batches fill and follow each other at once, which is what keeps the rows per second high. On a graceful
/// stop it writes everything still queued before the process exits.
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
    UsageMetrics metrics,
    TimeProvider time,
    ILogger<UsageWriter> logger) : BackgroundService
{
    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(100);

    // Events per replay transaction: large enough that a replay outruns new traffic (replayed one spooled batch at a
    // time, MariaDB took 2,000-4,000 events/s on the 2-core test machine), small enough that a transaction stays far
    // below ReplayTimeout on a busy server.
    private const int MaxReplayEvents = 20_000;

    // The replay runs beside the queue, so it may take its time; an abandoned transaction would keep the writer's mark
    // locked and make every retry wait for it (seen with 5 s on PostgreSQL with both cores saturated).
    private static readonly TimeSpan ReplayTimeout = TimeSpan.FromSeconds(60);

    // How often the loop looks at a running replay when no events come.
    private static readonly TimeSpan BacklogPoll = TimeSpan.FromMilliseconds(50);

    // How long a graceful stop keeps replaying; what is left stays in the spool for the next start.
    private static readonly TimeSpan StopReplayBudget = TimeSpan.FromSeconds(10);

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

    // A new id per process start, so sequence numbers never need to survive a restart; and a new one when the database
    // answers again after batches of the current id were spooled, so that new batches can go straight to the database
    // while the replay, beside them, stores the old id's batches in their order.
    private string _writerId = Guid.NewGuid().ToString("N");
    private bool _spooledUnderCurrentId;
    private volatile bool _replaySucceeds;
    private readonly Queue<UsageBatch> _held = new();
    private readonly Queue<UsageBatch> _dropped = new();
    private readonly StorageFailurePolicy _policy = options.Value.WhenStorageFails;
    private readonly TimeSpan _storageTimeout = options.Value.StorageTimeout;
    private long _sequence;
    private long _written;
    private TimeSpan _retryDelay = FirstRetryDelay;
    private long _nextRetry;
    private readonly CancellationTokenSource _stopReplay = new();
    private UsageBatch? _replay;
    private Task<bool>? _replayTask;
    private bool _replayOneAtATime;
    private bool _droppedTailUntried;

    /// <summary>Events stored since start (in the database or, during an outage, in the spool).</summary>
    public long Written => Interlocked.Read(ref _written);

    /// <summary>The writer's id in <c>usage_writer_marks</c>.</summary>
    internal string WriterId => _writerId;

    private bool HasBacklog => _held.Count > 0 || _dropped.Count > 0 || spool.HasPending || _replayTask is not null;

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
    // Keys' last uses written with one batch at most: a million keys in use are written over 50 batches, each a few
    // tens of milliseconds longer, rather than in one transaction that would hold up the queue for seconds.
    private const int KeyUsesPerBatch = 20_000;

    // The shortest wait for keys' uses that are due: a write drained over several batches pauses this long between them.
    private static readonly TimeSpan KeyUsesPoll = TimeSpan.FromMilliseconds(10);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Runs on a thread-pool thread, not inside the host's start-up.
        await Task.Yield();
        var batchSize = options.Value.BatchSize;
        // With synchronous durability requests wait for the commit: gather nothing, write what is there (requests
        // that arrive during a write form the next batch, a natural group commit).
        var flushInterval = options.Value.Durability == UsageDurability.Synchronous ? TimeSpan.Zero : options.Value.FlushInterval;
        var quietInterval = flushInterval > TimeSpan.Zero && options.Value.QuietFlushInterval > flushInterval
            ? options.Value.QuietFlushInterval
            : flushInterval;
        var batch = new UsageBatch(batchSize);
        var lastUsedResolution = options.Value.LastUsedResolution;
        var keyUses = lastUsedResolution > TimeSpan.Zero ? new PendingKeyUses() : null;
        var nextKeyWrite = time.GetTimestamp();
        PublishState();
        // The loop ignores stoppingToken on purpose: it ends when the queue is completed and empty.
        // Gathered keys' uses wake the loop when their write is due, even with no new events.
        while (await WaitForWorkAsync(keyUses is { Writing: true } ? time.GetTimestamp() : keyUses is { Count: > 0 } ? nextKeyWrite : null))
        {
            batch.KeyUses = keyUses;
            while (batch.Count < batchSize && queue.TryTake(out var e))
            {
                batch.Add(e);
                live.Record(e);
            }

            if (keyUses is not null)
            {
                if (!keyUses.Writing && keyUses.Count > 0 && time.GetTimestamp() >= nextKeyWrite)
                {
                    keyUses.Begin();
                    nextKeyWrite = time.GetTimestamp() + (long)(lastUsedResolution.TotalSeconds * time.TimestampFrequency);
                }

                keyUses.MoveTo(batch, KeyUsesPerBatch);
            }

            var full = batch.Count >= batchSize;
            var events = batch.Count;
            if (!batch.IsEmpty)
            {
                batch = await StoreAsync(batch, batchSize);
            }

            if (queue.TakeDropped() is { } dropped)
            {
                dropped.Mark = new UsageBatchMark(Guid.NewGuid().ToString("N"), 1);
                _dropped.Enqueue(dropped);
                _droppedTailUntried = false;
            }

            if (HasBacklog && time.GetTimestamp() >= _nextRetry)
            {
                await RetryBacklogAsync(batchSize);
            }

            PublishState();
            // Synchronous durability gathers nothing, spooling or not: its requests wait for the fsync of their batch.
            // A quiet server gathers longer (one transaction per event made 50 req/s cost 10.9 % of a core against 6.5 %),
            // unless keys' last uses are still being drained in parts.
            var quiet = events < UsageOptions.QuietBatchEvents && keyUses is not { Writing: true };
            var pause = HasBacklog && flushInterval > TimeSpan.Zero ? SpoolGatherInterval : quiet ? quietInterval : flushInterval;
            if (!full && pause > TimeSpan.Zero)
            {
                await Task.Delay(pause, time, _stopping.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }

        // Stopping: the keys' last uses still gathered are written with the last batch.
        if (keyUses is { Count: > 0 })
        {
            keyUses.Begin();
            while (keyUses.Writing)
            {
                batch.KeyUses = null;
                keyUses.MoveTo(batch, KeyUsesPerBatch);
                batch = await StoreAsync(batch, batchSize);
            }
        }

        // Stopping: a last attempt at what is not stored yet, for a bounded time. The spool stays on disk for the next
        // start; only batches held in memory (WhenStorageFails=Refuse) can be lost, and they are logged.
        var stopping = time.GetTimestamp();
        _nextRetry = 0;
        while (HasBacklog && time.GetElapsedTime(stopping) < StopReplayBudget)
        {
            if (time.GetTimestamp() >= _nextRetry)
            {
                await RetryBacklogAsync(batchSize);
            }

            if (_replayTask is { } replay)
            {
                await Task.WhenAny(replay, Task.Delay(TimeSpan.FromMilliseconds(50), time, CancellationToken.None));
            }
            else if (HasBacklog)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(50), time, CancellationToken.None);
            }
        }

        if (_replayTask is { } unfinished)
        {
            await _stopReplay.CancelAsync();
            await ((Task)unfinished).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            _replayTask = null;
        }

        // News of shared counts that came with no event after it goes in before the stop, when the database answers.
        var news = new UsageBatch();
        if (queue.TakeShared(news))
        {
            news.Mark = new UsageBatchMark(Guid.NewGuid().ToString("N"), 1);
            await TryWriteDatabaseAsync(news, _storageTimeout, CancellationToken.None);
        }

        PublishState();
        var lost = _held.Sum(b => (long)b.Count);
        if (lost > 0)
        {
            LogLostOnStop(logger, lost);
        }
    }

    /// <summary>Waits for events or, with a backlog, for the next retry; false once the queue is completed and empty.</summary>
    private async Task<bool> WaitForWorkAsync(long? keysDueAt)
    {
        if (!HasBacklog && keysDueAt is null)
        {
            return await queue.Reader.WaitToReadAsync(CancellationToken.None);
        }

        if (queue.Reader.TryPeek(out _))
        {
            return true;
        }

        var now = time.GetTimestamp();
        var wait = TimeSpan.MaxValue;
        if (HasBacklog)
        {
            // At least a moment, even when a retry is due: while the replay runs beside this loop there is nothing to do
            // here but notice new events or its end, and a loop that did not wait would take the replay's CPU.
            wait = time.GetElapsedTime(now, _nextRetry);
            if (wait < BacklogPoll)
            {
                wait = BacklogPoll;
            }
        }

        if (keysDueAt is { } due)
        {
            var untilDue = time.GetElapsedTime(now, due);
            wait = untilDue < KeyUsesPoll ? KeyUsesPoll : untilDue < wait ? untilDue : wait;
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
        if (_spooledUnderCurrentId && _replaySucceeds && _held.Count == 0)
        {
            // The database answers again: new batches under a new id go straight to it, the replay takes the rest.
            _writerId = Guid.NewGuid().ToString("N");
            _sequence = 0;
            _spooledUnderCurrentId = false;
        }

        batch.Mark = new UsageBatchMark(_writerId, ++_sequence);
        // Straight to the database only when no older batch of this id waits (they reach it in sequence order), and,
        // while the spool is replayed, only once the replay gets through.
        var databaseAnswers = (!spool.HasPending && _replayTask is null) || _replaySucceeds;
        if (_held.Count == 0 && !_spooledUnderCurrentId && databaseAnswers)
        {
            // News that unshared admissions reached Redis goes only with a write straight to the database: the spool
            // carries events, not this; if the write fails the news waits for the next one.
            queue.TakeShared(batch);
            var outcome = await TryWriteDatabaseAsync(batch, _storageTimeout);
            if (outcome == WriteOutcome.Stored)
            {
                Recorded(batch);
                batch.Clear();
                return batch;
            }

            if (outcome == WriteOutcome.Failed)
            {
                foreach (var (key, count) in batch.TakeBackShared())
                {
                    queue.MarkShared(key.TenantId, key.Period, key.PeriodStart, count);
                }
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
            _spooledUnderCurrentId |= batch.Mark?.WriterId == _writerId;
            _replaySucceeds = false;
            Recorded(batch);
            return true;
        }

        if (_policy == StorageFailurePolicy.Admit)
        {
            // Folded into the newest aggregates not yet tried, so that an outage adds one batch (and one mark) per
            // retry, not one per flush interval.
            if (!_droppedTailUntried || !_dropped.TryPeek(out _))
            {
                _dropped.Enqueue(new UsageBatch { Mark = new UsageBatchMark(Guid.NewGuid().ToString("N"), 1) });
                _droppedTailUntried = true;
            }

            var aggregates = _dropped.Last();
            foreach (var e in batch.Events)
            {
                aggregates.AddWithoutRow(e);
                e.Receipt?.Complete();
            }

            status.Dropped(batch.Count);
            LogDropped(logger, batch.Count);
            return true;
        }

        _held.Enqueue(batch);
        return false;
    }

    /// <summary>
    /// Starts the spool's replay when it is due, and stores the held batches and the aggregates of dropped rows while
    /// storage takes them. The replay runs beside this loop, so the queue is drained into the spool meanwhile however
    /// long the database takes; this loop writes to the database again once the replay has emptied the spool.
    /// </summary>
    private async Task RetryBacklogAsync(int batchSize)
    {
        var failed = false;
        if (_replayTask is { IsCompleted: true } finished)
        {
            failed = !await finished;
            _replayTask = null;
        }

        if (_replayTask is null && spool.HasPending && !failed)
        {
            _replayTask = ReplayAsync(batchSize);
        }

        while (!failed && _held.TryPeek(out var held))
        {
            var recorded = spool.HasPending
                ? TryAppendToSpool(held)
                : await TryWriteDatabaseAsync(held, _storageTimeout) == WriteOutcome.Stored || TryAppendToSpool(held);
            if (!recorded)
            {
                failed = true;
                break;
            }

            _held.Dequeue();
            _spooledUnderCurrentId |= spool.HasPending && held.Mark?.WriterId == _writerId;
            Recorded(held);
        }

        _droppedTailUntried = false;
        while (!failed && _dropped.TryPeek(out var aggregates))
        {
            if (await TryWriteDatabaseAsync(aggregates, _storageTimeout) != WriteOutcome.Stored)
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
        else if (_replayTask is null)
        {
            _retryDelay = FirstRetryDelay;
        }
    }

    /// <summary>
    /// Replays the spool into the database, oldest first, until it is empty (true) or the database fails (false).
    /// Runs beside the main loop, which only appends to the spool meanwhile.
    /// </summary>
    private async Task<bool> ReplayAsync(int batchSize)
    {
        // Off the main loop's thread: a synchronous driver (SQLite) must not hold up the queue.
        await Task.Yield();
        while (spool.HasPending && !_stopReplay.IsCancellationRequested)
        {
            _replay ??= new UsageBatch(batchSize);
            // Several spooled batches in one transaction, unless the last try found part of such a range stored
            // (a commit whose answer was lost): then the oldest alone, which its mark skips.
            var read = spool.ReadOldest(_replay, _replayOneAtATime ? 1 : Math.Min(batchSize, MaxReplayEvents));
            spool.BeginReplay();
            var outcome = await TryWriteDatabaseAsync(_replay, ReplayTimeout, _stopReplay.Token);
            _replaySucceeds = outcome == WriteOutcome.Stored;
            var partlyStored = outcome == WriteOutcome.Stored && _replay.AlreadyStored && read > 1;
            spool.EndReplay(outcome == WriteOutcome.Stored && !partlyStored ? read : 0);
            _replayOneAtATime = partlyStored;
            if (outcome == WriteOutcome.Abandoned)
            {
                _replay = null;
            }

            if (outcome != WriteOutcome.Stored)
            {
                return false;
            }
        }

        if (!spool.HasPending)
        {
            LogReplayed(logger);
        }

        return true;
    }

    private async Task<WriteOutcome> TryWriteDatabaseAsync(UsageBatch batch, TimeSpan limit, CancellationToken stop = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
        timeout.CancelAfter(limit);
        // A span of its own per batch when a tracer listens (no request's trace: a batch serves many); null otherwise.
        using var activity = UsageTracing.Source.StartActivity("tollgate.usage.write");
        activity?.SetTag("tollgate.usage.batch.size", batch.Count);
        var started = time.GetTimestamp();
        var write = store.WriteAsync(batch, timeout.Token);
        try
        {
            // WaitAsync as well as the token: not every driver call honours cancellation (SQLite's are synchronous).
            await write.WaitAsync(limit, time, stop);
            metrics.Committed(time.GetElapsedTime(started));
            return WriteOutcome.Stored;
        }
        catch (TimeoutException)
        {
            LogWriteTimedOut(logger, batch.Count, limit);
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
            // Said loudly once per outage; every batch after it would say the same (and cost the requests the CPU).
            if (status.State is UsageStorageState.Refusing or UsageStorageState.Dropping)
            {
                LogSpoolFailedAgain(logger, batch.Count, ex.Message);
            }
            else
            {
                LogSpoolFailed(logger, ex, batch.Count, spool.FilePath);
            }

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

    [LoggerMessage(Level = LogLevel.Debug, Message = "Spooling {Count} usage events failed again: {Reason}")]
    private static partial void LogSpoolFailedAgain(ILogger logger, int count, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Neither the database nor the spool takes usage events: {Count} raw rows dropped (WhenStorageFails=Admit)")]
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
