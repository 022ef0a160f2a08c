using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Tollgate.Data;

namespace Tollgate.Usage;

/// <summary>
/// Deletes stored usage older than <see cref="RetentionOptions"/> allows (CONTRACT §9): raw rows, per-minute and
/// per-hour roll-ups. Per-day roll-ups are never deleted. Runs a minute after start, then every
/// <see cref="RetentionOptions.Interval"/>.
/// </summary>
/// <remarks>
/// Rows go in batches of at most <see cref="BatchSize"/>, each batch its own short transaction with a pause after it,
/// so that the usage writer and the request path never wait behind a long lock: on SQLite the writer shares the file's
/// one write lock with the clean-up; on PostgreSQL and MySQL (at READ COMMITTED) the deletes lock only the rows they
/// delete, old rows the writer no longer touches.
/// <para>
/// Every instance runs the clean-up, and on a shared database their runs may overlap. That is harmless: a delete only
/// removes rows past the cut-off, whoever gets to a row first deletes it and the other finds it gone; nothing is deleted
/// that should stay, and a run stopped half-way leaves the rest to the next.
/// </para>
/// </remarks>
internal sealed partial class UsageRetention(
    IServiceScopeFactory scopes,
    IUsageRetentionStore store,
    IOptions<RetentionOptions> options,
    UsageMetrics metrics,
    TimeProvider time,
    ILogger<UsageRetention> logger) : BackgroundService
{
    /// <summary>Rows per delete: about 20 ms of SQLite's write lock (see <see cref="IdRangeDeletion"/>).</summary>
    internal const int BatchSize = 5_000;

    /// <summary>The first run: once start-up traffic has settled, or after the interval when that is shorter.</summary>
    private static readonly TimeSpan FirstRunDelay = TimeSpan.FromMinutes(1);

    /// <summary>
    /// The tables the clean-up empties of old rows, in the order it does them: table, time column, how long rows are
    /// kept and, for the log, the id that grows with time and is deleted by ranges (<see cref="IdRangeDeletion"/>).
    /// <see cref="UsageTables.DayRollups"/> is not here on purpose: it is kept forever, so old ranges keep exact totals.
    /// </summary>
    internal static readonly IReadOnlyList<RetentionTarget> Targets =
    [
        new(UsageTables.Logs, UsageTables.LogTime, o => o.UsageLogs, GrowingId: "id"),
        // The minute and hour roll-ups are deleted through their bucket_start index.
        new(UsageTables.Rollups, "bucket_start", o => o.MinuteRollups),
        new(UsageTables.HourRollups, "bucket_start", o => o.HourRollups),
    ];

    private readonly SemaphoreSlim _running = new(1, 1);

    /// <summary>
    /// The pause after each batch, in real time whatever the <see cref="TimeProvider"/>: it hands the database's locks to
    /// the others, which a test's fake clock would not. Default 10 ms. Measured on SQLite, deleting 300,000 rows and
    /// 250,000 roll-ups beside a writer committing 100 events every 10 ms (2 cores, load average 4-10): with no pause the
    /// clean-up starved the writer of the lock (commits waited up to 730 ms); with 10 ms the writer's p99 was 19-22 ms
    /// and its slowest commit 29-36 ms (it waits with SQLite's busy handler, see SqliteUsageBatchStore), and the run took
    /// 5-17 s with the load; 200 ms made the run twice as long for nothing.
    /// </summary>
    internal TimeSpan Pause { get; set; } = TimeSpan.FromMilliseconds(10);

    /// <summary>
    /// Runs one clean-up now (one at a time in this process; a run of the background loop is waited for) and answers
    /// the rows deleted per table.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, long>> RunOnceAsync(CancellationToken cancellationToken)
    {
        await _running.WaitAsync(cancellationToken);
        try
        {
            var started = time.GetTimestamp();
            var now = time.GetUtcNow().UtcDateTime;
            var deleted = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var target in Targets)
            {
                var cutoff = now - target.Retention(options.Value);
                deleted[target.Table] = target.GrowingId is { } id
                    ? await DeleteByIdAsync(target, id, cutoff, cancellationToken)
                    : await DeleteByTimeAsync(target, cutoff, cancellationToken);
            }

            var total = deleted.Values.Sum();
            if (total > 0)
            {
                await store.ReclaimSpaceAsync(cancellationToken);
            }

            var took = time.GetElapsedTime(started);
            metrics.RetentionRan(took);
            if (total > 0)
            {
                var tables = deleted.Where(d => d.Value > 0).Select(d => string.Create(CultureInfo.InvariantCulture, $"{d.Key} {d.Value}"));
                LogRun(logger, total, string.Join(", ", tables), took.TotalSeconds);
            }

            return deleted;
        }
        finally
        {
            _running.Release();
        }
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = options.Value.Interval;
        try
        {
            await Task.Delay(interval < FirstRunDelay ? interval : FirstRunDelay, time, stoppingToken);
            using var timer = new PeriodicTimer(interval, time);
            do
            {
                try
                {
                    await RunOnceAsync(stoppingToken);
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    // The database is away or busy: what is left waits for the next run. Never rethrown, which would
                    // stop the host.
                    LogRunFailed(logger, ex);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Deletes through the time column's index, a batch per statement, until a batch comes back short.</summary>
    private async Task<long> DeleteByTimeAsync(RetentionTarget target, DateTime cutoff, CancellationToken cancellationToken)
    {
        long total = 0;
        while (true)
        {
            var deleted = await store.DeleteBeforeAsync(target.Table, target.TimeColumn, cutoff, BatchSize, cancellationToken);
            total += Deleted(target, deleted);
            if (deleted < BatchSize)
            {
                return total;
            }

            await Task.Delay(Pause, cancellationToken);
        }
    }

    /// <summary>Deletes by ranges of the growing id, a batch per statement (see <see cref="IdRangeDeletion"/>).</summary>
    private async Task<long> DeleteByIdAsync(RetentionTarget target, string idColumn, DateTime cutoff, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TollgateDbContext>();
        await db.Database.OpenConnectionAsync(cancellationToken);
        try
        {
            var rows = new IdRangeDeletion(db, target.Table, idColumn, target.TimeColumn, UnixMilliseconds.From(cutoff), BatchSize);
            if (await rows.FindOldRangeAsync(cancellationToken) is not { } range)
            {
                return 0;
            }

            var (first, lastOld) = range;
            long total = 0;
            for (var after = first - 1; after < lastOld;)
            {
                var through = await rows.BatchEndAsync(after, lastOld, cancellationToken);
                total += Deleted(target, await rows.DeleteAsync(after, through, cancellationToken));
                after = through;
                if (after < lastOld)
                {
                    await Task.Delay(Pause, cancellationToken);
                }
            }

            return total;
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }

    private long Deleted(RetentionTarget target, int rows)
    {
        if (rows > 0)
        {
            metrics.RetentionDeleted(target.Table, rows);
        }

        return rows;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Retention deleted {Rows} expired usage rows ({Tables}) in {Seconds:0.0} s")]
    private static partial void LogRun(ILogger logger, long rows, string tables, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The retention clean-up failed; the next run tries again")]
    private static partial void LogRunFailed(ILogger logger, Exception exception);
}

/// <summary>A table the retention clean-up empties of old rows.</summary>
/// <param name="Table">The table.</param>
/// <param name="TimeColumn">The UTC time its retention is measured on; rows strictly older than now minus the retention go.</param>
/// <param name="Retention">How long its rows are kept.</param>
/// <param name="GrowingId">
/// An id column that grows with time, to delete by id ranges; null to delete through the time column's index. The one
/// such table, the raw log, keeps its time as Unix milliseconds (<see cref="UsageTables.LogTime"/>).
/// </param>
internal sealed record RetentionTarget(string Table, string TimeColumn, Func<RetentionOptions, TimeSpan> Retention, string? GrowingId = null);
