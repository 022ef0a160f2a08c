namespace Tollgate.Usage;

/// <summary>
/// The keys used since their last use was last written, held by the writer between writes of
/// <c>api_keys.last_used_at</c> (every <see cref="UsageOptions.LastUsedResolution"/>), then written in id order.
/// </summary>
/// <remarks>
/// Written with every batch, a million keys used at random cost an update of a random <c>api_keys</c> page per request:
/// 22,000 req/s against 60,000 with 1,000 keys (bench/run scale, 2026-12-01). Gathered here, each key is written at most
/// once per interval, in id order, so consecutive updates share pages. The set is a bitmap by key id (ids are dense
/// database sequences): 128 KB for a million keys; ids beyond its bound go to a hash set. Used by the writer's one
/// thread only.
/// </remarks>
public sealed class PendingKeyUses
{
    // 2^26 ids: a bitmap of at most 8 MB.
    private const long BitmapIds = 1L << 26;

    private readonly SortedSet<long> _beyond = [];
    private ulong[] _bits = new ulong[1024];
    private int _count;
    private int _cursor = -1;
    private DateTime _latest;
    private DateTime _writing;

    /// <summary>Keys waiting to be written.</summary>
    public int Count => _count;

    /// <summary>Whether a write of the pending keys is under way (started by <see cref="Begin"/>, not yet drained).</summary>
    public bool Writing => _cursor >= 0;

    /// <summary>Notes a use of the key at <paramref name="at"/>.</summary>
    public void Mark(long keyId, DateTime at)
    {
        if (at > _latest)
        {
            _latest = at;
        }

        if (keyId < 0 || keyId >= BitmapIds)
        {
            _count += _beyond.Add(keyId) ? 1 : 0;
            return;
        }

        var word = (int)(keyId >> 6);
        if (word >= _bits.Length)
        {
            Array.Resize(ref _bits, (int)Math.Min(BitmapIds >> 6, Math.Max(word + 1L, _bits.Length * 2L)));
        }

        var bit = 1UL << (int)(keyId & 63);
        if ((_bits[word] & bit) == 0)
        {
            _bits[word] |= bit;
            _count++;
        }
    }

    /// <summary>
    /// Starts writing what is pending: every key is written with the time of the latest use seen so far, so the stored
    /// time is the key's last use to within the interval.
    /// </summary>
    public void Begin()
    {
        _cursor = 0;
        _writing = _latest;
    }

    /// <summary>
    /// Moves up to <paramref name="most"/> pending keys, in id order, into the batch's <see cref="UsageBatch.KeysLastUsed"/>.
    /// Spread over batches so that no single transaction carries a million updates. Keys marked again behind the write's
    /// position wait for the next write.
    /// </summary>
    public void MoveTo(UsageBatch batch, int most)
    {
        if (_cursor < 0)
        {
            return;
        }

        var moved = 0;
        for (; _cursor < _bits.Length && moved < most; _cursor++)
        {
            var word = _bits[_cursor];
            if (word == 0)
            {
                continue;
            }

            // A word at a time: a word is never split between two batches.
            while (word != 0)
            {
                var bit = System.Numerics.BitOperations.TrailingZeroCount(word);
                batch.KeyUsed(((long)_cursor << 6) + bit, _writing);
                word &= word - 1;
                moved++;
                _count--;
            }

            _bits[_cursor] = 0;
        }

        while (_cursor >= _bits.Length && moved < most && _beyond.Count > 0)
        {
            var id = _beyond.Min;
            _beyond.Remove(id);
            batch.KeyUsed(id, _writing);
            moved++;
            _count--;
        }

        if (_cursor >= _bits.Length && _beyond.Count == 0)
        {
            _cursor = -1;
        }
    }
}
