using System.Collections.Concurrent;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Tollgate.Data;

namespace Tollgate.Keys;

/// <summary>
/// The default key store: the <see cref="KeyIndex"/> of every key, with a bounded cache in front of it that keeps each
/// recently used key's resolved caller. A cached look-up is two dictionary probes, with no allocation and no SHA-256 (see
/// <see cref="_fingerprints"/>); a key outside the cache is decided from the index, also without the database. The database is read only for a key
/// the index has not heard of yet (made on another instance a moment ago), within a budget per second.
/// </summary>
internal sealed class CachedApiKeyStore : IApiKeyStore
{
    /// <summary>The meter of the key look-ups.</summary>
    public const string MeterName = "Tollgate.Keys";

    private readonly ConcurrentDictionary<KeyHash, Entry> _entries;

    // The SHA-256 of each cached key, found by a 128-bit XxHash3 of the key as presented, seeded per process: OpenSSL 3
    // takes 1.0-1.3 µs for one SHA-256 of a key (its per-call set-up and locks; 44 bytes are one block), against 15-20 ns
    // for the fingerprint (a side-by-side loop, 2026-12-01): about a twentieth of a ping's server CPU. Only keys found
    // valid get here, and an entry leaves with its cache entry. Presenting another key that reaches a cached hash needs
    // a 128-bit collision with a key the caller does not know under a seed it does not know; the raw keys themselves are
    // never kept.
    private readonly ConcurrentDictionary<UInt128, KeyHash> _fingerprints;
    private readonly long _seed = BitConverter.ToInt64(RandomNumberGenerator.GetBytes(sizeof(long)));

    // One database read per key at a time: a burst on a key this instance has not seen (a tenant made a moment ago on
    // another instance) waits for the first read instead of spending the index-miss budget; CI saw 2 of 75 such
    // concurrent requests answered 401 because the budget was gone before the first read came back.
    private readonly ConcurrentDictionary<KeyHash, Task<KeyLookup>> _loading = new();
    private readonly IServiceScopeFactory _scopes;
    private readonly TenantDirectory _tenants;
    private readonly KeyIndex _index;
    private readonly TimeProvider _time;
    private readonly int _capacity;
    private readonly TimeSpan _negativeDuration;
    private readonly int _missChecksPerSecond;
    private readonly Lock _missGate = new();
    private int _evicting;
    private int _roomLeft;
    private long _recountAtTicks;
    private long _missWindow;
    private int _missChecks;
    private long _databaseLookups;
    private long _cacheHits;
    private long _indexAnswers;

    public CachedApiKeyStore(
        IServiceScopeFactory scopes,
        TenantDirectory tenants,
        KeyIndex index,
        TimeProvider time,
        IOptions<ApiKeyOptions> options,
        System.Diagnostics.Metrics.IMeterFactory meters)
    {
        _scopes = scopes;
        _tenants = tenants;
        _index = index;
        _time = time;
        _capacity = options.Value.CacheCapacity;
        // Sized for its capacity at once: with keys used at random the cache fills in the first second after a start,
        // and growing would lock and copy it several times then.
        _entries = new ConcurrentDictionary<KeyHash, Entry>(Environment.ProcessorCount, Math.Min(_capacity, 100_000));
        _fingerprints = new ConcurrentDictionary<UInt128, KeyHash>(Environment.ProcessorCount, Math.Min(_capacity, 100_000));
        _negativeDuration = options.Value.NegativeCacheDuration;
        _missChecksPerSecond = options.Value.IndexMissChecksPerSecond;
        CreateInstruments(meters);
    }

    /// <summary>Number of cached entries (for tests and metrics).</summary>
    public int Count => _entries.Count;

    /// <summary>Look-ups sent to the database since start (for tests and metrics).</summary>
    public long DatabaseLookups => Interlocked.Read(ref _databaseLookups);

    public ValueTask<KeyLookup> FindAsync(string? presentedKey, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrEmpty(presentedKey))
        {
            return new(new KeyLookup(KeyLookupResult.Missing, null));
        }

        var now = _time.GetUtcNow().UtcDateTime;
        var fingerprint = XxHash128.HashToUInt128(MemoryMarshal.AsBytes(presentedKey.AsSpan()), _seed);
        if (_fingerprints.TryGetValue(fingerprint, out var hash) && TryCached(hash, now, out var cached))
        {
            return new(cached);
        }

        if (!ApiKeyFormat.TryHash(presentedKey, out hash))
        {
            return new(new KeyLookup(KeyLookupResult.Unknown, null));
        }

        if (TryCached(hash, now, out cached))
        {
            Remember(fingerprint, hash, cached);
            return new(cached);
        }

        if (_loading.TryGetValue(hash, out var pending))
        {
            return new(pending.WaitAsync(cancellationToken));
        }

        // A read may have finished between the cache probe above and the look for it: it stores the entry before it
        // stops being pending, so the entry is there now (CI: 1 of 40 burst requests was refused in that gap).
        if (TryCached(hash, now, out cached))
        {
            return new(cached);
        }

        if (_index.TryFind(hash, out var record) && _tenants.TryGet(record.TenantId, out var tenant))
        {
            var decided = FromIndex(hash, record, tenant, now);
            Remember(fingerprint, hash, decided);
            return new(decided);
        }

        // A key no instance ever issued is answered from memory: no look-up, and no negative entry that would push
        // real keys out of the cache (finding 9 of issue 12). A few misses a second still go to the database, for a
        // key made on another instance a moment ago whose change-feed message has not arrived yet.
        if (!_index.MightExist(hash))
        {
            // Taking the budget and registering the read happen under one gate, and a request that finds the budget gone
            // looks again for the read or its answer: without both, one of a burst of 40 was refused, in the moment
            // between another request's budget check and its registration, or while it waited for the gate.
            lock (_missGate)
            {
                if (_loading.TryGetValue(hash, out pending))
                {
                    return new(pending.WaitAsync(cancellationToken));
                }

                // A read that finished while this request waited for the gate has left its answer in the cache.
                if (TryCached(hash, now, out cached))
                {
                    return new(cached);
                }

                if (!TakeMissCheck(now))
                {
                    Interlocked.Increment(ref _indexAnswers);
                    return new(new KeyLookup(KeyLookupResult.Unknown, null));
                }

                return new(LoadOnceAsync(hash, now).WaitAsync(cancellationToken));
            }
        }

        return new(LoadOnceAsync(hash, now).WaitAsync(cancellationToken));
    }

    /// <summary>
    /// Lets the next use of a key skip its SHA-256, once it is found valid and cached: the fingerprint is kept on the entry
    /// so that it leaves with it (<see cref="Remove"/>), which bounds the fingerprints by the cache's capacity.
    /// </summary>
    private void Remember(UInt128 fingerprint, in KeyHash hash, in KeyLookup lookup)
    {
        if (lookup.Result == KeyLookupResult.Found && _entries.TryGetValue(hash, out var entry) && entry.Fingerprint == 0)
        {
            entry.Fingerprint = fingerprint;
            _fingerprints[fingerprint] = hash;
            // Removed meanwhile: its fingerprint goes too (a stale one would still be right, only unbounded).
            if (!_entries.TryGetValue(hash, out var current) || current != entry)
            {
                _fingerprints.TryRemove(fingerprint, out _);
            }
        }
    }

    /// <summary>Drops a cache entry and the fingerprint that led to it.</summary>
    private bool Remove(in KeyHash hash)
    {
        if (!_entries.TryRemove(hash, out var entry))
        {
            return false;
        }

        if (entry.Fingerprint != 0)
        {
            _fingerprints.TryRemove(entry.Fingerprint, out _);
        }

        return true;
    }

    /// <summary>The answer from the cache: a known key, or an unknown one seen recently.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private bool TryCached(in KeyHash hash, DateTime now, out KeyLookup lookup)
    {
        if (_entries.TryGetValue(hash, out var entry) && (entry.KeyId != 0 || now < entry.UnknownUntil))
        {
            // One uncontended-enough atomic add (a few ns) rather than a tagged Counter.Add on every request: the
            // instruments below read these totals when scraped.
            Interlocked.Increment(ref _cacheHits);
            lookup = Resolve(entry, now);
            return true;
        }

        lookup = default;
        return false;
    }

    /// <summary>
    /// A key decided from the index. It joins the cache while the cache has room; once full, the cache keeps the keys it
    /// has and others are resolved from the index on each use (a small allocation), so that keys used uniformly at
    /// random never churn the cache (1,000,000 keys: see docs/benchmarks.md, "scale").
    /// </summary>
    private KeyLookup FromIndex(in KeyHash hash, in KeyRecord record, TenantContext tenant, DateTime now)
    {
        Interlocked.Increment(ref _indexAnswers);
        if (!HasRoom(now))
        {
            return Refusal(record.RevokedAt, record.ExpiresAt, now) is { } refused
                ? new KeyLookup(refused, null)
                : new KeyLookup(KeyLookupResult.Found, new ApiCaller(record.KeyId, tenant));
        }

        var entry = _entries.GetOrAdd(hash, new Entry
        {
            KeyId = record.KeyId, TenantId = record.TenantId, ExpiresAt = record.ExpiresAt, RevokedAt = record.RevokedAt, LastUsedTicks = now.Ticks,
        });
        Interlocked.Decrement(ref _roomLeft);
        return Resolve(entry, now);
    }

    /// <summary>Why a stored key no longer lets requests in, if it does not: revoked, or past its expiry.</summary>
    private static KeyLookupResult? Refusal(DateTime? revokedAt, DateTime expiresAt, DateTime now) =>
        revokedAt is not null ? KeyLookupResult.Revoked : expiresAt <= now ? KeyLookupResult.Expired : null;

    /// <summary>
    /// Whether the cache may take another entry, from an estimate counted down on each add. The true count is read only
    /// when the estimate runs out, at most once a second: <see cref="ConcurrentDictionary{TKey,TValue}.Count"/> takes
    /// every one of the dictionary's locks, and asked on each request it was 40 % of the server's CPU samples with a
    /// million keys in use (perf, 2026-12-01).
    /// </summary>
    private bool HasRoom(DateTime now)
    {
        if (Volatile.Read(ref _roomLeft) > 0)
        {
            return true;
        }

        var recountAt = Interlocked.Read(ref _recountAtTicks);
        if (now.Ticks < recountAt || Interlocked.CompareExchange(ref _recountAtTicks, now.Ticks + TimeSpan.TicksPerSecond, recountAt) != recountAt)
        {
            return false;
        }

        Volatile.Write(ref _roomLeft, _capacity - _entries.Count);
        return Volatile.Read(ref _roomLeft) > 0;
    }

    private Task<KeyLookup> LoadOnceAsync(KeyHash hash, DateTime now)
    {
        var load = new TaskCompletionSource<KeyLookup>(TaskCreationOptions.RunContinuationsAsynchronously);
        var current = _loading.GetOrAdd(hash, load.Task);
        if (current != load.Task)
        {
            return current;
        }

        _ = CompleteAsync();
        return load.Task;

        async Task CompleteAsync()
        {
            try
            {
                // Not the first caller's token: others wait for this read too.
                load.SetResult(await LoadAsync(hash, now, CancellationToken.None));
            }
            catch (Exception ex)
            {
                load.SetException(ex);
            }
            finally
            {
                _loading.TryRemove(new KeyValuePair<KeyHash, Task<KeyLookup>>(hash, load.Task));
            }
        }
    }

    public void Evict(KeyHash hash) => Remove(hash);

    /// <summary>
    /// <c>tollgate.keys.lookups</c> by <c>tollgate.keys.source</c>: <c>cache</c> (answered from memory: known keys and
    /// recently seen unknown ones), <c>database</c> (a cache miss read from <c>api_keys</c>), <c>index</c> (decided from
    /// the key index without a read: a key outside the cache, or one no instance issued); and the cache's size.
    /// </summary>
    private void CreateInstruments(System.Diagnostics.Metrics.IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(new System.Diagnostics.Metrics.MeterOptions(MeterName));
        meter.CreateObservableCounter("tollgate.keys.lookups", () => new[]
        {
            new System.Diagnostics.Metrics.Measurement<long>(Interlocked.Read(ref _cacheHits), new KeyValuePair<string, object?>("tollgate.keys.source", "cache")),
            new System.Diagnostics.Metrics.Measurement<long>(DatabaseLookups, new KeyValuePair<string, object?>("tollgate.keys.source", "database")),
            new System.Diagnostics.Metrics.Measurement<long>(Interlocked.Read(ref _indexAnswers), new KeyValuePair<string, object?>("tollgate.keys.source", "index")),
        }, "{lookup}", "API key look-ups by where they were answered");
        meter.CreateObservableGauge("tollgate.keys.cache.size", () => Count, "{key}", "Keys (and recently seen unknown keys) held in the key cache");
    }

    /// <summary>Takes one of this second's database checks of index misses; false when they are used up.</summary>
    private bool TakeMissCheck(DateTime now)
    {
        if (_missChecksPerSecond == 0)
        {
            return false;
        }

        var second = now.Ticks / TimeSpan.TicksPerSecond;
        var window = Interlocked.Read(ref _missWindow);
        if (window != second && Interlocked.CompareExchange(ref _missWindow, second, window) == window)
        {
            Interlocked.Exchange(ref _missChecks, 0);
        }

        return Interlocked.Increment(ref _missChecks) <= _missChecksPerSecond;
    }

    public void EvictTenant(long tenantId)
    {
        foreach (var (hash, entry) in _entries)
        {
            if (entry.TenantId == tenantId)
            {
                Remove(hash);
            }
        }
    }

    private KeyLookup Resolve(Entry entry, DateTime now)
    {
        if (entry.KeyId == 0)
        {
            return new KeyLookup(KeyLookupResult.Unknown, null);
        }

        if (Refusal(entry.RevokedAt, entry.ExpiresAt, now) is { } refused)
        {
            return new KeyLookup(refused, null);
        }

        // The tenant is read from the directory on every request, so a suspension or plan change applies at once.
        if (!_tenants.TryGet(entry.TenantId, out var tenant))
        {
            return new KeyLookup(KeyLookupResult.Unknown, null);
        }

        var caller = entry.Caller;
        if (caller is null || !ReferenceEquals(caller.Tenant, tenant))
        {
            caller = new ApiCaller(entry.KeyId, tenant);
            entry.Caller = caller;
        }

        Volatile.Write(ref entry.LastUsedTicks, now.Ticks);
        return new KeyLookup(KeyLookupResult.Found, caller);
    }

    private async Task<KeyLookup> LoadAsync(KeyHash hash, DateTime now, CancellationToken ct)
    {
        Interlocked.Increment(ref _databaseLookups);
        // The index had not heard of the key: its read puts it there, for this instance's next uses too.
        await _index.RefreshAsync(hash, ct);
        var found = _index.TryFind(hash, out var record);
        var entry = found
            ? new Entry { KeyId = record.KeyId, TenantId = record.TenantId, ExpiresAt = record.ExpiresAt, RevokedAt = record.RevokedAt }
            : new Entry { UnknownUntil = now + _negativeDuration };
        entry.LastUsedTicks = now.Ticks;
        if (found && !_tenants.TryGet(record.TenantId, out _))
        {
            // A key of a tenant this instance has not heard of yet (made on another instance, its change-feed message
            // still on the way): read the tenants now rather than refuse a valid key.
            await _tenants.ReloadAsync(ct);
        }

        MakeRoom();
        // A replaced entry hands on its fingerprint, so that it still leaves with the entry.
        _entries.AddOrUpdate(hash, entry, (_, old) =>
        {
            entry.Fingerprint = old.Fingerprint;
            return entry;
        });
        return Resolve(entry, now);
    }

    /// <summary>
    /// Re-reads the state of every cached key used since <paramref name="since"/> (revoked, expiry, tenant), in bulk
    /// and off the request path, so that a revocation or rotation made on another instance applies here too. Known
    /// keys only: unknown ones expire from the negative cache on their own.
    /// </summary>
    /// <returns>How many entries changed.</returns>
    public async Task<int> RevalidateAsync(DateTime since, CancellationToken ct)
    {
        var used = _entries.Where(e => e.Value.KeyId != 0 && Volatile.Read(ref e.Value.LastUsedTicks) >= since.Ticks)
            .Select(e => (Hash: e.Key, Entry: e.Value)).ToList();
        var changed = 0;
        // Chunks keep each IN list well below every provider's parameter limit.
        foreach (var chunk in used.Chunk(500))
        {
            var ids = chunk.Select(c => c.Entry.KeyId).ToArray();
            await using var scope = _scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<TollgateDbContext>();
            var rows = await db.ApiKeys.AsNoTracking()
                .Where(k => ids.Contains(k.Id))
                .Select(k => new { k.Id, k.TenantId, k.ExpiresAt, k.RevokedAt })
                .ToDictionaryAsync(k => k.Id, ct);
            foreach (var (hash, entry) in chunk)
            {
                if (!rows.TryGetValue(entry.KeyId, out var row))
                {
                    // Deleted with its tenant.
                    _index.Remove(hash);
                    changed += Remove(hash) ? 1 : 0;
                }
                else if (row.RevokedAt != entry.RevokedAt || (row.ExpiresAt ?? DateTime.MaxValue) != entry.ExpiresAt || row.TenantId != entry.TenantId)
                {
                    // A new entry rather than a change of the shared one: readers never see half of an update.
                    var fresh = new Entry
                    {
                        KeyId = row.Id, TenantId = row.TenantId, ExpiresAt = row.ExpiresAt ?? DateTime.MaxValue, RevokedAt = row.RevokedAt,
                        LastUsedTicks = Volatile.Read(ref entry.LastUsedTicks), Fingerprint = entry.Fingerprint,
                    };
                    _index.Put(hash, new KeyRecord(row.Id, row.TenantId, row.ExpiresAt, row.RevokedAt));
                    changed += _entries.TryUpdate(hash, fresh, entry) ? 1 : 0;
                }
            }
        }

        return changed;
    }

    /// <summary>When the cache is full, drops the least recently used half. Rare, so a sort is fine.</summary>
    private void MakeRoom()
    {
        if (_entries.Count < _capacity || Interlocked.Exchange(ref _evicting, 1) == 1)
        {
            return;
        }

        try
        {
            var byAge = _entries.ToArray();
            Array.Sort(byAge, (a, b) => a.Value.LastUsedTicks.CompareTo(b.Value.LastUsedTicks));
            for (var i = 0; i < byAge.Length / 2; i++)
            {
                Remove(byAge[i].Key);
            }
        }
        finally
        {
            Volatile.Write(ref _evicting, 0);
        }
    }

    private sealed class Entry
    {
        public long KeyId;
        public long TenantId;
        public DateTime ExpiresAt = DateTime.MaxValue;
        public DateTime? RevokedAt;
        public DateTime UnknownUntil;
        public long LastUsedTicks;
        public ApiCaller? Caller;
        public UInt128 Fingerprint;
    }
}
