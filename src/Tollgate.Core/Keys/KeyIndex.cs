using System.Collections.Concurrent;
using Microsoft.EntityFrameworkCore;
using Tollgate.Data;

namespace Tollgate.Keys;

/// <summary>
/// Every issued key, on every instance: its hash with its key id, tenant, expiry and revocation. Any presented key is
/// decided from memory, with no database look-up on the request path however many keys there are (issue 17: with a
/// bounded cache, 300,000 keys used at random ran at a third of the throughput of 50,000, every miss a query), and a
/// flood of made-up keys costs one SHA-256 and two probes each (issue 12, finding 9).
/// <para>
/// Memory: a <see cref="Dictionary{TKey,TValue}"/> of 32-byte hashes to 24-byte <see cref="KeyRecord"/>s (KeyIndexTests
/// measures a million: 79 bytes a key). Readers never lock: the snapshot is never written once published, and
/// changes since go to a small concurrent overlay that is folded into a new snapshot past <see cref="FoldThreshold"/>.
/// </para>
/// <para>
/// Kept current: loaded whole at start, before the first request; a key made or revoked on this instance is read again
/// at once, and on the others through the change feed (Redis); every <see cref="ApiKeyOptions.IndexRefreshInterval"/>
/// the newest rows of <c>api_keys</c> are read (keys made where no feed reached); and every
/// <see cref="ApiKeyOptions.ResyncInterval"/> the keys the audit log shows revoked or rotated since (a change made on an
/// instance no feed connects to). Both catch-ups read what changed, never the whole table.
/// </para>
/// </summary>
public sealed class KeyIndex(IServiceScopeFactory scopes)
{
    // Ids are handed out before commit, so a slow transaction can commit a lower id after a higher one was read: each
    // catch-up reads again this many ids below the highest it has seen.
    private const long Lookback = 1000;

    // Changes since the snapshot, kept apart so that a change never copies the snapshot; folded into it past this size
    // (a copy of a million entries takes tens of milliseconds, off the request path).
    private const int FoldThreshold = 4096;

    // From this many keys a load returns the memory its reading went through to the system (see LoadAsync).
    private const int LargeLoad = 100_000;

    private readonly object _writeLock = new();
    private readonly ConcurrentDictionary<KeyHash, KeyRecord> _recent = new(ByPrefix.Instance);
    private volatile Dictionary<KeyHash, KeyRecord>? _snapshot;
    private long _highestId;

    /// <summary>Whether the index has been loaded; until then every key is sent on to the database.</summary>
    public bool IsLoaded => _snapshot is not null;

    /// <summary>Number of keys held (an estimate while changes wait to be folded).</summary>
    public int Count => (_snapshot?.Count ?? 0) + _recent.Count;

    /// <summary>The stored state of the key with this hash; false when no issued key has it (or it was deleted).</summary>
    public bool TryFind(in KeyHash hash, out KeyRecord record)
    {
        if (_recent.TryGetValue(hash, out record) || (_snapshot?.TryGetValue(hash, out record) ?? false))
        {
            return record.KeyId != 0;
        }

        record = default;
        return false;
    }

    /// <summary>False when no issued key has this hash: the caller may answer 401 without any look-up.</summary>
    public bool MightExist(in KeyHash hash) => !IsLoaded || TryFind(hash, out _);

    /// <summary>Puts a key's stored state in (made, revoked, rotated).</summary>
    public void Put(in KeyHash hash, in KeyRecord record)
    {
        _recent[hash] = record;
        if (_recent.Count >= FoldThreshold)
        {
            Fold();
        }
    }

    /// <summary>Takes a key out (its row is gone).</summary>
    public void Remove(in KeyHash hash) => Put(hash, default);

    /// <summary>Takes out every key of a deleted tenant.</summary>
    public void RemoveTenant(long tenantId)
    {
        var snapshot = _snapshot;
        var gone = _recent.Where(e => e.Value.TenantId == tenantId).Select(e => e.Key).ToList();
        if (snapshot is not null)
        {
            gone.AddRange(snapshot.Where(e => e.Value.TenantId == tenantId).Select(e => e.Key));
        }

        foreach (var hash in gone)
        {
            Remove(hash);
        }
    }

    /// <summary>Reads every key (at start).</summary>
    public async Task LoadAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TollgateDbContext>();
        // Sized once: growing by doubling would copy the table about twenty times on the way to a million.
        var all = new Dictionary<KeyHash, KeyRecord>(await db.ApiKeys.CountAsync(cancellationToken), ByPrefix.Instance);
        long highest = 0;
        // Read with a data reader into a reused buffer rather than materialized by EF: a million rows would otherwise
        // leave a million hash arrays and row objects behind, garbage that lifts the process's peak memory by about
        // as much as the index itself.
        var connection = db.Database.GetDbConnection();
        await db.Database.OpenConnectionAsync(cancellationToken);
        await using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT id, tenant_id, hash, expires_at, revoked_at FROM api_keys";
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            var hash = new byte[32];
            while (await reader.ReadAsync(cancellationToken))
            {
                if (reader.GetBytes(2, 0, hash, 0, 32) != 32)
                {
                    continue;
                }

                var record = new KeyRecord(
                    reader.GetInt64(0),
                    reader.GetInt64(1),
                    reader.IsDBNull(3) ? null : DateTime.SpecifyKind(reader.GetDateTime(3), DateTimeKind.Utc),
                    reader.IsDBNull(4) ? null : DateTime.SpecifyKind(reader.GetDateTime(4), DateTimeKind.Utc));
                all[KeyHash.FromBytes(hash)] = record;
                highest = Math.Max(highest, record.KeyId);
            }
        }

        lock (_writeLock)
        {
            // Changes that arrived while the table was read are newer than what it read.
            var added = _recent.ToArray();
            foreach (var (hash, record) in added)
            {
                all[hash] = record;
            }

            _snapshot = all;
            Forget(added);
            InterlockedMax(ref _highestId, highest);
        }

        if (all.Count >= LargeLoad)
        {
            // Reading a million rows went through some 470 MB of short-lived objects in the providers; the GC kept the
            // memory it grew to (182 MB committed for a 93 MB heap, 305 MB resident). Once, at start, it is handed back.
            GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        }
    }

    /// <summary>Adds the keys written since the last read (and a few ids before, see <see cref="Lookback"/>).</summary>
    public async Task CatchUpAsync(CancellationToken cancellationToken)
    {
        if (!IsLoaded)
        {
            await LoadAsync(cancellationToken);
            return;
        }

        var from = Interlocked.Read(ref _highestId) - Lookback;
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TollgateDbContext>();
        foreach (var row in await Rows(db.ApiKeys.AsNoTracking().Where(k => k.Id > from)).ToListAsync(cancellationToken))
        {
            PutIfChanged(KeyHash.FromBytes(row.Hash), row.Record);
            InterlockedMax(ref _highestId, row.Record.KeyId);
        }
    }

    /// <summary>Reads one key again (made or changed here, or on another instance that said so on the change feed).</summary>
    public async Task RefreshAsync(KeyHash hash, CancellationToken cancellationToken)
    {
        var bytes = hash.ToArray();
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TollgateDbContext>();
        var row = await Rows(db.ApiKeys.AsNoTracking().Where(k => k.Hash == bytes)).FirstOrDefaultAsync(cancellationToken);
        if (row is null)
        {
            // Only a key the index holds needs a mark: a made-up key read within the miss budget adds nothing.
            if (TryFind(hash, out _))
            {
                Remove(hash);
            }
        }
        else
        {
            Put(hash, row.Record);
            InterlockedMax(ref _highestId, row.Record.KeyId);
        }
    }

    /// <summary>
    /// Reads again the keys the audit log shows revoked or rotated since <paramref name="since"/> (less a margin for
    /// clocks): what another instance changed reaches this one even with no change feed between them.
    /// </summary>
    /// <returns>The hashes whose state changed.</returns>
    public async Task<List<KeyHash>> ResyncChangedAsync(DateTime since, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TollgateDbContext>();
        var ids = (await AuditedChanges.SinceAsync(db, since, a => a.Action == "key.revoke" || a.Action == "key.rotate", cancellationToken))
            .Where(t => t.Kind == "key").Select(t => t.Id).ToArray();
        var changed = new List<KeyHash>();
        // Chunks keep each IN list well below every provider's parameter limit.
        foreach (var chunk in ids.Chunk(500))
        {
            foreach (var row in await Rows(db.ApiKeys.AsNoTracking().Where(k => chunk.Contains(k.Id))).ToListAsync(cancellationToken))
            {
                var hash = KeyHash.FromBytes(row.Hash);
                if (PutIfChanged(hash, row.Record))
                {
                    changed.Add(hash);
                }
            }
        }

        return changed;
    }

    /// <summary>Builds a table of exactly these keys, as <see cref="LoadAsync"/> does (for measuring its memory).</summary>
    internal static Dictionary<KeyHash, KeyRecord> Build(IReadOnlyCollection<(KeyHash Hash, KeyRecord Record)> keys)
    {
        var table = new Dictionary<KeyHash, KeyRecord>(keys.Count, ByPrefix.Instance);
        foreach (var (hash, record) in keys)
        {
            table[hash] = record;
        }

        return table;
    }

    private static IQueryable<KeyRow> Rows(IQueryable<ApiKey> keys) =>
        keys.Select(k => new KeyRow(k.Hash, new KeyRecord(k.Id, k.TenantId, k.ExpiresAt, k.RevokedAt)));

    private bool PutIfChanged(in KeyHash hash, in KeyRecord record)
    {
        if (TryFind(hash, out var held) && held == record)
        {
            return false;
        }

        Put(hash, record);
        return true;
    }

    private void Fold()
    {
        lock (_writeLock)
        {
            if (_snapshot is not { } snapshot || _recent.Count < FoldThreshold)
            {
                return;
            }

            var folded = _recent.ToArray();
            var next = new Dictionary<KeyHash, KeyRecord>(snapshot, ByPrefix.Instance);
            foreach (var (hash, record) in folded)
            {
                if (record.KeyId == 0)
                {
                    next.Remove(hash);
                }
                else
                {
                    next[hash] = record;
                }
            }

            _snapshot = next;
            Forget(folded);
        }
    }

    /// <summary>
    /// Drops changes from the overlay once a published snapshot holds them: a reader sees each key in one or the other
    /// at every moment, and a change that raced the fold (a newer value) stays in the overlay.
    /// </summary>
    private void Forget(KeyValuePair<KeyHash, KeyRecord>[] changes)
    {
        foreach (var change in changes)
        {
            _recent.TryRemove(change);
        }
    }

    private static void InterlockedMax(ref long target, long value)
    {
        var current = Interlocked.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    private sealed record KeyRow(byte[] Hash, KeyRecord Record);

    /// <summary>SHA-256 output is uniform: its first 32 bits are as good a hash code as any mix of all 256.</summary>
    private sealed class ByPrefix : IEqualityComparer<KeyHash>
    {
        public static readonly ByPrefix Instance = new();

        public bool Equals(KeyHash x, KeyHash y) => x == y;

        public int GetHashCode(KeyHash obj) => (int)obj.A;
    }
}

/// <summary>What the request path needs of a stored key, in 24 bytes: a million keys fit in under 100 MB.</summary>
public readonly record struct KeyRecord
{
    // Expiry and revocation share one field: a revoked key's expiry no longer matters. Positive: expires at these
    // ticks (long.MaxValue: never); negative: revoked at minus these ticks.
    private readonly long _state;

    /// <summary>A record of a stored key.</summary>
    public KeyRecord(long keyId, long tenantId, DateTime? expiresAt, DateTime? revokedAt)
    {
        KeyId = keyId;
        TenantId = tenantId;
        _state = revokedAt is { } revoked ? -Math.Max(1, revoked.Ticks) : expiresAt?.Ticks ?? long.MaxValue;
    }

    /// <summary>The key's id (<c>api_keys.id</c>); 0 in a record that marks a deleted key.</summary>
    public long KeyId { get; }

    /// <summary>The owning tenant.</summary>
    public long TenantId { get; }

    /// <summary>When the key stops working (UTC); <see cref="DateTime.MaxValue"/> when never, or when it was revoked.</summary>
    public DateTime ExpiresAt => _state is > 0 and < long.MaxValue ? new DateTime(_state, DateTimeKind.Utc) : DateTime.MaxValue;

    /// <summary>When the key was revoked (UTC), if it was.</summary>
    public DateTime? RevokedAt => _state < 0 ? new DateTime(-_state, DateTimeKind.Utc) : null;
}
