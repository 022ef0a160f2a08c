using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using Microsoft.Extensions.Options;
using Tollgate.Limits;

namespace Tollgate.Usage;

/// <summary>
/// Where the <see cref="UsageWriter"/> puts batches the database cannot take: one append-only file on local disk,
/// each batch a record that is fsync'd before the writer counts it as recorded, replayed into the database oldest
/// first when the database answers again. A record is <c>[length][CRC-32][format, writer id, sequence, count,
/// events…]</c>; a torn last record (a crash during an append) fails its length or checksum and is cut off when the
/// file is opened. The file is emptied once every record is replayed.
/// </summary>
/// <remarks>
/// A file of our own rather than a SQLite file: the writer appends whole batches and reads them back in order, which is
/// what a file does without an index or a page cache; appending a 50,000-event batch costs one write and one fsync.
/// Exactly once: each record keeps its batch's <see cref="UsageBatchMark"/>, and the stores skip a batch whose mark is
/// already stored, so a crash between the database's commit and the record's removal cannot double anything.
/// Only the writer appends and replays; the pending quota counts are read by the limit seeds from any thread.
/// </remarks>
internal sealed partial class UsageSpool : IDisposable
{
    /// <summary>The spool file's name inside <see cref="UsageOptions.SpoolPath"/>.</summary>
    public const string FileName = "usage.spool";

    private const int HeaderLength = 8;

    private readonly string _folder;
    private readonly ILogger<UsageSpool> _logger;
    private readonly Lock _gate = new();

    // The file and its handle: appends (the writer's loop) and replays (beside it) take turns.
    private readonly Lock _fileGate = new();
    private readonly Queue<SpooledBatch> _batches = new();
    private readonly Dictionary<QuotaKey, QuotaIncrement> _pendingQuota = [];
    private readonly MemoryStream _buffer = new();
    private FileStream? _file;
    private long _pendingEvents;
    private int _pendingBatches;
    private int _replayEpoch;
    private bool _scanned;

    /// <summary>Creates the spool; nothing touches the disk before <see cref="Load"/> or <see cref="Append"/>.</summary>
    public UsageSpool(IOptions<UsageOptions> options, IHostEnvironment environment, ILogger<UsageSpool> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(environment);
        _folder = Path.GetFullPath(options.Value.SpoolPath, environment.ContentRootPath);
        _logger = logger;
    }

    /// <summary>The spool file.</summary>
    public string FilePath => Path.Combine(_folder, FileName);

    /// <summary>True while some spooled batch is not replayed yet.</summary>
    public bool HasPending => Volatile.Read(ref _pendingBatches) > 0;

    /// <summary>Events spooled and not replayed yet.</summary>
    public long PendingEvents => Interlocked.Read(ref _pendingEvents);

    /// <summary>
    /// Opens the file and reads what a previous run left in it, skipping the batches the database already has
    /// (<paramref name="storedMarks"/>: the stored sequence of each writer id asked for). Without this call the first
    /// append opens it, and then every batch left in it is replayed (those already stored are skipped by their marks).
    /// </summary>
    public void Load(Func<IReadOnlyCollection<string>, IReadOnlyDictionary<string, long>> storedMarks)
    {
        ArgumentNullException.ThrowIfNull(storedMarks);
        lock (_fileGate)
        {
            Open(storedMarks);
            if (!HasPending)
            {
                Close(); // opened again, and locked, by the first append
            }
        }
    }

    /// <summary>
    /// Appends a batch (it must carry its <see cref="UsageBatch.Mark"/>) and waits for the disk to have it (fsync).
    /// Throws when the disk cannot take it; the file is then left as it was.
    /// </summary>
    public void Append(UsageBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var mark = batch.Mark ?? throw new ArgumentException("A spooled batch needs its writer's mark.", nameof(batch));
        lock (_fileGate)
        {
            AppendLocked(batch, mark);
        }
    }

    private void AppendLocked(UsageBatch batch, UsageBatchMark mark)
    {
        Open();
        var file = _file!;
        Encode(batch, mark);
        var start = file.Length;
        try
        {
            file.Position = start;
            file.Write(_buffer.GetBuffer(), 0, (int)_buffer.Length);
            file.Flush(flushToDisk: true);
        }
        catch
        {
            // Cut off whatever part of the record reached the file: the next append must start on a record boundary.
            try
            {
                file.SetLength(start);
            }
            catch (IOException)
            {
                Close(); // reopened, and the torn tail cut off, by the next append
            }

            throw;
        }

        Enqueued(new SpooledBatch(start, _buffer.Length, mark, batch.Count, [.. batch.QuotaIncrements]));
    }

    /// <summary>
    /// Reads the oldest pending batches of one writer into <paramref name="batch"/>, as one batch of at most
    /// <paramref name="maxEvents"/> events (at least the oldest batch, whatever its size), marked with the range of
    /// their sequence numbers; returns how many were read, 0 when nothing is pending. One transaction for many spooled
    /// batches is what lets the replay outrun new traffic: replayed one by one, batches of 100 ms each went into
    /// MariaDB at 2,000–4,000 events/s on the 2-core test machine, slower than requests came in.
    /// </summary>
    public int ReadOldest(UsageBatch batch, int maxEvents)
    {
        ArgumentNullException.ThrowIfNull(batch);
        SpooledBatch[] oldest;
        lock (_gate)
        {
            if (_batches.Count == 0)
            {
                return 0;
            }

            var first = _batches.Peek();
            var taken = 0;
            oldest = [.. _batches.TakeWhile(b =>
            {
                taken += b.Events;
                return b.Mark.WriterId == first.Mark.WriterId && (b == first || taken <= maxEvents);
            })];
        }

        batch.Clear();
        lock (_fileGate)
        {
            Open();
            foreach (var spooled in oldest)
            {
                if (!TryReadAt(_file!, spooled.Offset, batch, out _, append: true))
                {
                    throw new InvalidDataException($"The spooled batch at byte {spooled.Offset} of {FilePath} cannot be read back.");
                }
            }
        }

        batch.Mark = new UsageBatchMark(oldest[0].Mark.WriterId, oldest[^1].Mark.Sequence, oldest[0].Mark.Sequence);
        return oldest.Length;
    }

    /// <summary>
    /// Marks the start of storing the oldest batch in the database. Until <see cref="EndReplay"/>, the database and
    /// <see cref="PendingUsed"/> may both count it, so <see cref="ReadConsistentAsync"/> waits.
    /// </summary>
    public void BeginReplay() => Interlocked.Increment(ref _replayEpoch);

    /// <summary>Ends a replay: the oldest <paramref name="stored"/> batches are no longer pending (0: none stored).</summary>
    public void EndReplay(int stored)
    {
        for (var i = 0; i < stored; i++)
        {
            lock (_gate)
            {
                var done = _batches.Dequeue();
                foreach (var (key, count) in done.Quota)
                {
                    var pending = _pendingQuota[key];
                    var left = new QuotaIncrement(pending.Used - count.Used, pending.Unshared - count.Unshared);
                    if (left == default)
                    {
                        _pendingQuota.Remove(key);
                    }
                    else
                    {
                        _pendingQuota[key] = left;
                    }
                }

                Interlocked.Add(ref _pendingEvents, -done.Events);
                Interlocked.Decrement(ref _pendingBatches);
            }
        }

        Interlocked.Increment(ref _replayEpoch);
        if (stored > 0)
        {
            lock (_fileGate)
            {
                // Checked again under the file's lock: an append may have come in meanwhile.
                if (!HasPending && _file is { } file)
                {
                    TryEmpty(file);
                    // Held open (and locked) only while something is pending: a process that stops, or a test host
                    // that is disposed, leaves no open file behind.
                    Close();
                }
            }
        }
    }

    /// <summary>Admitted requests of a tenant's period that are spooled and not yet in the database.</summary>
    public long PendingUsed(QuotaKey key)
    {
        lock (_gate)
        {
            return _pendingQuota.GetValueOrDefault(key).Used;
        }
    }

    /// <summary>Of <see cref="PendingUsed"/>, those not admitted while Redis was away (what a shared counter's seed counts).</summary>
    public long PendingShared(QuotaKey key)
    {
        lock (_gate)
        {
            var pending = _pendingQuota.GetValueOrDefault(key);
            return pending.Used - pending.Unshared;
        }
    }

    /// <summary>The tenants with admitted requests in the spool.</summary>
    public long[] PendingTenants()
    {
        lock (_gate)
        {
            return [.. _pendingQuota.Keys.Select(k => k.TenantId).Distinct()];
        }
    }

    /// <summary>
    /// Reads the database's count with <paramref name="readDatabase"/> and adds the spooled count, retrying when a
    /// replay moved counts from the spool to the database in between (either would then be counted twice or not at all).
    /// </summary>
    public async ValueTask<long> ReadConsistentAsync(
        QuotaKey key, Func<CancellationToken, ValueTask<long>> readDatabase, TimeProvider time, CancellationToken ct, bool sharedOnly = false)
    {
        ArgumentNullException.ThrowIfNull(readDatabase);
        while (true)
        {
            var before = Volatile.Read(ref _replayEpoch);
            if ((before & 1) == 1)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(5), time, ct); // a replay is committing
                continue;
            }

            var stored = await readDatabase(ct);
            var pending = sharedOnly ? PendingShared(key) : PendingUsed(key);
            if (Volatile.Read(ref _replayEpoch) == before)
            {
                return stored + pending;
            }
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_fileGate)
        {
            Close();
            _buffer.Dispose();
        }
    }

    private void Enqueued(SpooledBatch spooled)
    {
        lock (_gate)
        {
            _batches.Enqueue(spooled);
            foreach (var (key, count) in spooled.Quota)
            {
                var pending = _pendingQuota.GetValueOrDefault(key);
                _pendingQuota[key] = new QuotaIncrement(pending.Used + count.Used, pending.Unshared + count.Unshared);
            }

            Interlocked.Add(ref _pendingEvents, spooled.Events);
            Interlocked.Increment(ref _pendingBatches);
        }
    }

    private void Open(Func<IReadOnlyCollection<string>, IReadOnlyDictionary<string, long>>? storedMarks = null)
    {
        if (_file is not null)
        {
            return;
        }

        Directory.CreateDirectory(_folder);
        // FileShare.None takes an exclusive lock (flock on Linux) for as long as batches are pending: two processes
        // spooling into one folder would replay each other's batches, so the second one fails here, and its batches
        // go the way of WhenStorageFails.
        var file = new FileStream(FilePath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, bufferSize: 0);
        _file = file;
        if (!_scanned)
        {
            _scanned = true;
            Scan(file, storedMarks);
            return;
        }

        // Reopened after an append whose torn record could not be cut off: cut it now.
        var end = 0L;
        lock (_gate)
        {
            if (_batches.Count > 0)
            {
                var last = _batches.Last();
                end = last.Offset + last.Length;
            }
        }

        if (file.Length > end)
        {
            file.SetLength(end);
        }
    }

    private void Scan(FileStream file, Func<IReadOnlyCollection<string>, IReadOnlyDictionary<string, long>>? storedMarks)
    {
        var found = new List<SpooledBatch>();
        var batch = new UsageBatch();
        long offset = 0;
        while (TryReadAt(file, offset, batch, out var length))
        {
            found.Add(new SpooledBatch(offset, length, batch.Mark!.Value, batch.Count, [.. batch.QuotaIncrements]));
            offset += length;
        }

        if (offset < file.Length)
        {
            LogTornTail(_logger, file.Length - offset, FilePath);
            file.SetLength(offset);
            file.Flush(flushToDisk: true);
        }

        var stored = found.Count == 0 || storedMarks is null
            ? new Dictionary<string, long>()
            : storedMarks([.. found.Select(b => b.Mark.WriterId).Distinct()]);
        var skipped = 0;
        foreach (var spooled in found)
        {
            if (stored.TryGetValue(spooled.Mark.WriterId, out var last) && last >= spooled.Mark.Sequence)
            {
                skipped++; // replayed by the previous run, which stopped before emptying the file
                continue;
            }

            Enqueued(spooled);
        }

        if (found.Count > 0)
        {
            LogLoaded(_logger, found.Count - skipped, PendingEvents, skipped, FilePath);
        }

        if (!HasPending && file.Length > 0)
        {
            TryEmpty(file);
        }
    }

    private void Close()
    {
        _file?.Dispose();
        _file = null;
    }

    private void TryEmpty(FileStream file)
    {
        try
        {
            file.SetLength(0);
            file.Flush(flushToDisk: true);
        }
        catch (IOException ex)
        {
            // Harmless: the records left are skipped by their marks when replayed again.
            LogEmptyFailed(_logger, ex, FilePath);
        }
    }

    private void Encode(UsageBatch batch, UsageBatchMark mark)
    {
        _buffer.SetLength(HeaderLength);
        _buffer.Position = HeaderLength;
        using (var writer = new BinaryWriter(_buffer, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(UsageEventCodec.Format);
            writer.Write(mark.WriterId);
            writer.Write(mark.Sequence);
            writer.Write(batch.Count);
            foreach (var e in batch.Events)
            {
                UsageEventCodec.Write(writer, e);
            }
        }

        var bytes = _buffer.GetBuffer().AsSpan(0, (int)_buffer.Length);
        BinaryPrimitives.WriteInt32LittleEndian(bytes, bytes.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes[4..], Crc32.HashToUInt32(bytes[HeaderLength..]));
    }

    /// <summary>Reads the record at <paramref name="offset"/>; false at the end of the file or at a torn record.</summary>
    private static bool TryReadAt(FileStream file, long offset, UsageBatch batch, out long length, bool append = false)
    {
        length = 0;
        Span<byte> header = stackalloc byte[HeaderLength];
        if (RandomAccess.Read(file.SafeFileHandle, header, offset) < HeaderLength)
        {
            return false;
        }

        length = BinaryPrimitives.ReadInt32LittleEndian(header);
        if (length <= HeaderLength || offset + length > file.Length)
        {
            return false;
        }

        var payload = new byte[length - HeaderLength];
        if (RandomAccess.Read(file.SafeFileHandle, payload, offset + HeaderLength) < payload.Length
            || Crc32.HashToUInt32(payload) != BinaryPrimitives.ReadUInt32LittleEndian(header[4..]))
        {
            return false;
        }

        using var reader = new BinaryReader(new MemoryStream(payload), Encoding.UTF8);
        var format = reader.ReadByte();
        if (format is < UsageEventCodec.OldestReadable or > UsageEventCodec.Format)
        {
            throw new InvalidDataException(
                $"The spool {file.Name} holds events in format {format}; this build reads formats {UsageEventCodec.OldestReadable} to {UsageEventCodec.Format}. " +
                "Start the build that wrote it until its spool is replayed.");
        }

        if (!append)
        {
            batch.Clear();
        }

        batch.Mark = new UsageBatchMark(reader.ReadString(), reader.ReadInt64());
        var count = reader.ReadInt32();
        for (var i = 0; i < count; i++)
        {
            batch.Add(UsageEventCodec.Read(reader, format));
        }

        return true;
    }

    /// <summary>One pending record: where it is, whose it is, and what it adds to the quota counters.</summary>
    private sealed record SpooledBatch(long Offset, long Length, UsageBatchMark Mark, int Events, KeyValuePair<QuotaKey, QuotaIncrement>[] Quota);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Spool {Path}: cut off {Bytes} bytes of a batch torn by a crash during its append")]
    private static partial void LogTornTail(ILogger logger, long bytes, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Spool {Path}: {Batches} batches ({Events} events) left by a previous run, to replay; {Skipped} already in the database")]
    private static partial void LogLoaded(ILogger logger, int batches, long events, int skipped, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Spool {Path}: emptying the replayed file failed; its batches are skipped by their marks when read again")]
    private static partial void LogEmptyFailed(ILogger logger, Exception exception, string path);
}
