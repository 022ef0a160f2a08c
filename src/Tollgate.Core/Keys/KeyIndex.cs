using System.Collections.Concurrent;
using Microsoft.EntityFrameworkCore;
using Tollgate.Data;

namespace Tollgate.Keys;

/// <summary>
/// Every issued key's hash, by its first 64 bits, on every instance: "no such key" is decided in memory, so a flood
/// of made-up keys costs one SHA-256 and two set probes each instead of a database query (issue 12, finding 9: 13-17k
/// random keys/s used to be as many look-ups, and a legitimate tenant beside them fell to 2,960 req/s).
/// <para>
/// A 64-bit prefix is enough to say "cannot exist": a match only sends the key on to the cache and the database, which
/// compare the whole hash, and with a million keys a random key matches one with odds of 1 in 2^44. Memory: the
/// snapshot is a <see cref="HashSet{T}"/> of <see cref="ulong"/>, about 20 bytes a key (measured in KeyIndexTests:
/// under 24 bytes a key for a million).
/// </para>
/// <para>
/// Kept current three ways: loaded whole at start; a key made on this instance is added at once, and on the others
/// through the change feed (Redis); and every <see cref="ApiKeyOptions.IndexRefreshInterval"/> the newest rows of
/// <c>api_keys</c> are read, for keys made where no feed reached (several instances without Redis, a lost message,
/// rows written by hand).
/// </para>
/// </summary>
public sealed class KeyIndex(IServiceScopeFactory scopes)
{
    // Ids are handed out before commit, so a slow transaction can commit a lower id after a higher one was read: each
    // catch-up reads again this many ids below the highest it has seen.
    private const long Lookback = 1000;

    // Keys added since the snapshot, kept apart so adding never copies the snapshot; folded into it past this size.
    private const int FoldThreshold = 4096;

    private readonly object _writeLock = new();
    private readonly ConcurrentDictionary<ulong, byte> _recent = new();
    private volatile HashSet<ulong>? _snapshot;
    private long _highestId;

    /// <summary>Whether the index has been loaded; until then every key is sent on to the database.</summary>
    public bool IsLoaded => _snapshot is not null;

    /// <summary>Number of distinct key prefixes held.</summary>
    public int Count => (_snapshot?.Count ?? 0) + _recent.Count;

    /// <summary>False when no issued key has this hash: the caller may answer 401 without any look-up.</summary>
    public bool MightExist(in KeyHash hash)
    {
        var snapshot = _snapshot;
        return snapshot is null || snapshot.Contains(hash.A) || _recent.ContainsKey(hash.A);
    }

    /// <summary>Adds a key made on this or another instance.</summary>
    public void Add(in KeyHash hash)
    {
        var snapshot = _snapshot;
        if (snapshot is not null && snapshot.Contains(hash.A))
        {
            return;
        }

        _recent.TryAdd(hash.A, 0);
        if (_recent.Count >= FoldThreshold)
        {
            Fold();
        }
    }

    /// <summary>Reads every key hash (at start).</summary>
    public async Task LoadAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TollgateDbContext>();
        var prefixes = new HashSet<ulong>();
        long highest = 0;
        await foreach (var row in db.ApiKeys.AsNoTracking().Select(k => new { k.Id, k.Hash }).AsAsyncEnumerable().WithCancellation(cancellationToken))
        {
            prefixes.Add(KeyHash.FromBytes(row.Hash).A);
            highest = Math.Max(highest, row.Id);
        }

        lock (_writeLock)
        {
            var added = _recent.Keys.ToArray();
            prefixes.UnionWith(added);
            _snapshot = prefixes;
            Forget(added);
            InterlockedMax(ref _highestId, highest);
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
        var rows = await db.ApiKeys.AsNoTracking().Where(k => k.Id > from).Select(k => new { k.Id, k.Hash }).ToListAsync(cancellationToken);
        foreach (var row in rows)
        {
            Add(KeyHash.FromBytes(row.Hash));
            InterlockedMax(ref _highestId, row.Id);
        }
    }

    /// <summary>Builds a snapshot of exactly these hashes (for measuring its memory).</summary>
    internal static HashSet<ulong> Build(IReadOnlyCollection<KeyHash> hashes)
    {
        var set = new HashSet<ulong>(hashes.Count);
        foreach (var hash in hashes)
        {
            set.Add(hash.A);
        }

        return set;
    }

    private void Fold()
    {
        lock (_writeLock)
        {
            if (_snapshot is not { } snapshot || _recent.Count < FoldThreshold)
            {
                return;
            }

            var folded = _recent.Keys.ToArray();
            var next = new HashSet<ulong>(snapshot);
            next.UnionWith(folded);
            _snapshot = next;
            Forget(folded);
        }
    }

    /// <summary>
    /// Drops prefixes from the recent set once a published snapshot holds them: a reader sees each prefix in one or
    /// the other at every moment, and an Add that raced the fold stays in the recent set.
    /// </summary>
    private void Forget(ulong[] prefixes)
    {
        foreach (var prefix in prefixes)
        {
            _recent.TryRemove(prefix, out _);
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
}
