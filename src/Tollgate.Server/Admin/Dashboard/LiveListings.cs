using System.Buffers;
using Tollgate.Data;
using Tollgate.Keys;
using Tollgate.Limits;

namespace Tollgate.Admin;

/// <summary>
/// The listings of the views viewers ask for (filter and order over every tenant): the best rows of each, kept from
/// frame to frame. A new frame changes only the rows the board read again (<see cref="LiveBoard.ChangedBetween"/>), so
/// a listing is brought up to date by moving those rows, not by filtering and ordering every tenant again.
/// </summary>
/// <remarks>
/// A listing keeps the best <c>2 × depth</c> matching rows in order, and knows every other match is worse than the
/// last one kept. A changed row leaves its place; it comes back in order when it still matches and is better than the
/// last one kept (or every match is kept). When rows leave until fewer than a page's depth are kept while more match,
/// the listing is made again from every row. Before, every tick filtered and ordered every tenant for each view:
/// at 100,000 tenants a few milliseconds per view on top of the pass over every tenant (see <see cref="LiveBoard"/>).
/// </remarks>
internal sealed class LiveListings(LiveBoard board, TimeProvider time)
{
    /// <summary>A listing nobody asked for in this long is dropped.</summary>
    private static readonly TimeSpan Unused = TimeSpan.FromMinutes(1);

    private readonly Dictionary<(ListingKey, int), State> _states = [];
    private long _lastSweep;

    /// <summary>The first <paramref name="depth"/> rows of <paramref name="listing"/> in <paramref name="frame"/>, and how many match.</summary>
    public Listing Get(LiveFrame frame, ListingKey listing, int depth)
    {
        ArgumentNullException.ThrowIfNull(frame);
        var now = time.GetTimestamp();
        State state;
        lock (_states)
        {
            Sweep(now);
            if (!_states.TryGetValue((listing, depth), out state!))
            {
                state = new State(listing, depth);
                _states[(listing, depth)] = state;
            }
        }

        lock (state)
        {
            state.LastUsed = now;
            if (state.Rows is not null && state.Sequence > frame.Sequence)
            {
                // An older frame asked late: made for it alone, the listing stays with the newer one.
                var alone = new State(listing, depth);
                alone.Rebuild(frame);
                return alone.Cut();
            }

            if (!ReferenceEquals(state.Rows, frame.Rows))
            {
                var changed = state.Rows is not null && ReferenceEquals(state.Directory, frame.Directory)
                    ? board.ChangedBetween(state.Sequence, frame.Sequence)
                    : null;
                if (changed is null || changed.Count > frame.Rows.Count / 8 || !state.Apply(frame, changed))
                {
                    state.Rebuild(frame);
                }
            }

            return state.Cut();
        }
    }

    /// <summary>A listing made from every row of <paramref name="frame"/>, kept nowhere (a view of one tenant's admin).</summary>
    public static Listing Once(LiveFrame frame, ListingKey listing, int depth)
    {
        var state = new State(listing, depth);
        state.Rebuild(frame);
        return state.Cut();
    }

    private void Sweep(long now)
    {
        if (time.GetElapsedTime(_lastSweep, now) < Unused)
        {
            return;
        }

        _lastSweep = now;
        foreach (var (key, state) in _states.ToList())
        {
            if (time.GetElapsedTime(Volatile.Read(ref state.LastUsed), now) > Unused)
            {
                _states.Remove(key);
            }
        }
    }

    /// <summary>Whether a row passes a listing's filter.</summary>
    public static bool Matches(DashboardTenantDto row, ListingKey listing)
    {
        ArgumentNullException.ThrowIfNull(row);
        if (listing.Status is { } status)
        {
            var match = status == "Suspended" ? row.TenantStatus == TenantStatus.Suspended : row.Status.ToString() == status;
            if (!match)
            {
                return false;
            }
        }

        return (listing.Query is null || row.Name.Contains(listing.Query, StringComparison.OrdinalIgnoreCase))
            && (listing.Plan is null || row.Plan.Equals(listing.Plan, StringComparison.OrdinalIgnoreCase));
    }

    private static double Share(DashboardTenantDto row) => row.Limit > 0 ? (double)row.Used / row.Limit : 1;

    /// <summary>One listing, brought from frame to frame.</summary>
    private sealed class State(ListingKey listing, int depth)
    {
        private readonly int _capacity = 2 * depth;
        private SortEntry[] _kept = [];
        private int _count;
        private int _matched;
        private bool _complete;
        private Dictionary<string, int>? _plans;

        public long LastUsed;

        /// <summary>The frame the listing is of: its sequence, rows and directory.</summary>
        public long Sequence { get; private set; }

        public LiveRows? Rows { get; private set; }

        public IReadOnlyList<TenantContext>? Directory { get; private set; }

        public Listing Cut()
        {
            var top = new int[Math.Min(depth, _count)];
            for (var i = 0; i < top.Length; i++)
            {
                top[i] = _kept[i].Index;
            }

            return new Listing(top, _matched);
        }

        /// <summary>Filters and orders every row of the frame.</summary>
        public void Rebuild(LiveFrame frame)
        {
            Of(frame);
            _plans = listing.Sort == DashboardSort.Plan ? PlanRanks(frame.Directory) : null;
            var rows = frame.Rows;
            // Sorting keys, not rows: each entry carries its two keys and its name rank (the row index), so the sort
            // compares numbers only and ties fall to the name, A to Z, in either direction.
            // Pooled for the reason LiveBoard pools its peeks: 2.4 MB at 100,000 tenants.
            var entries = ArrayPool<SortEntry>.Shared.Rent(rows.Count);
            try
            {
                var count = 0;
                for (var i = 0; i < rows.Count; i++)
                {
                    if (Key(rows[i], i) is { } entry)
                    {
                        entries[count++] = entry;
                    }
                }

                var span = entries.AsSpan(0, count);
                if (listing.Sort == DashboardSort.Name && !listing.Descending)
                {
                    // Already in order: the directory is.
                }
                else if (_capacity < count / 4)
                {
                    // The top of a long listing: keep the best in a heap instead of sorting every match, O(n log depth)
                    // with most entries turned away by one comparison with the heap's worst.
                    span = Best(span, _capacity);
                }
                else
                {
                    span.Sort(default(SortEntryOrder));
                }

                _count = Math.Min(_capacity, span.Length);
                _kept = new SortEntry[_capacity + 1];
                span[.._count].CopyTo(_kept);
                _matched = count;
                _complete = count <= _capacity;
            }
            finally
            {
                ArrayPool<SortEntry>.Shared.Return(entries);
            }
        }

        /// <summary>Moves the rows at <paramref name="changed"/>; false when too few are left kept and it must be made again.</summary>
        public bool Apply(LiveFrame frame, HashSet<int> changed)
        {
            var before = Rows!;
            var order = default(SortEntryOrder);
            foreach (var i in changed)
            {
                var old = before[i];
                var row = frame.Rows[i];
                if (ReferenceEquals(old, row))
                {
                    continue;
                }

                if (Key(old, i) is { } was)
                {
                    _matched--;
                    var at = Array.BinarySearch(_kept, 0, _count, was, order);
                    if (at >= 0)
                    {
                        Array.Copy(_kept, at + 1, _kept, at, _count - at - 1);
                        _count--;
                    }
                }

                if (Key(row, i) is { } now)
                {
                    _matched++;
                    if (_complete || (_count > 0 && order.Compare(now, _kept[_count - 1]) < 0))
                    {
                        var at = ~Array.BinarySearch(_kept, 0, _count, now, order);
                        Array.Copy(_kept, at, _kept, at + 1, _count - at);
                        _kept[at] = now;
                        if (++_count > _capacity)
                        {
                            // The worst goes, and with it the certainty of holding every match.
                            _count = _capacity;
                            _complete = false;
                        }
                    }
                }
            }

            Of(frame);
            return _complete || _count >= Math.Min(depth, _matched);
        }

        private void Of(LiveFrame frame) => (Sequence, Rows, Directory) = (frame.Sequence, frame.Rows, frame.Directory);

        private SortEntry? Key(DashboardTenantDto row, int index)
        {
            if (!Matches(row, listing))
            {
                return null;
            }

            var (first, second) = listing.Sort switch
            {
                DashboardSort.Status => ((double)row.Status, Share(row)),
                DashboardSort.Usage => (Share(row), 0),
                DashboardSort.Rpm => (row.RequestsLastMinute, 0),
                DashboardSort.P95 => (row.P95LatencyMs ?? -1, 0),
                DashboardSort.Errors => (row.ErrorRate, 0),
                DashboardSort.Reset => (row.ResetAt.Ticks, 0),
                DashboardSort.Plan => (_plans![row.Plan], 0),
                _ => (index, 0.0),
            };
            var sign = listing.Descending ? -1.0 : 1.0;
            return new SortEntry(sign * first, sign * second, index);
        }
    }

    private static Span<SortEntry> Best(Span<SortEntry> entries, int depth)
    {
        var order = default(SortEntryOrder);
        // The root is the worst entry kept.
        var heap = new PriorityQueue<SortEntry, SortEntry>(depth + 1, Comparer<SortEntry>.Create((x, y) => order.Compare(y, x)));
        foreach (var entry in entries)
        {
            if (heap.Count < depth)
            {
                heap.Enqueue(entry, entry);
            }
            else if (order.Compare(entry, heap.Peek()) < 0)
            {
                heap.EnqueueDequeue(entry, entry);
            }
        }

        var best = new SortEntry[heap.Count];
        for (var i = best.Length - 1; i >= 0; i--)
        {
            best[i] = heap.Dequeue();
        }

        return best;
    }

    private static Dictionary<string, int> PlanRanks(IReadOnlyList<TenantContext> directory)
    {
        var names = new SortedSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var tenant in directory)
        {
            names.Add(tenant.PlanName);
        }

        var ranks = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        foreach (var name in names)
        {
            ranks[name] = ranks.Count;
        }

        return ranks;
    }

    private readonly record struct SortEntry(double First, double Second, int Index);

    private readonly struct SortEntryOrder : IComparer<SortEntry>
    {
        public int Compare(SortEntry x, SortEntry y)
        {
            var c = x.First.CompareTo(y.First);
            if (c != 0)
            {
                return c;
            }

            c = x.Second.CompareTo(y.Second);
            return c != 0 ? c : x.Index.CompareTo(y.Index);
        }
    }
}

/// <summary>A view's filter and order, without its page.</summary>
/// <param name="Sort">The order.</param>
/// <param name="Descending">Whether it is reversed.</param>
/// <param name="Status">Only tenants with this status.</param>
/// <param name="Query">Only tenants whose name contains this.</param>
/// <param name="Plan">Only tenants on this plan.</param>
internal readonly record struct ListingKey(DashboardSort Sort, bool Descending, string? Status, string? Query, string? Plan);

/// <summary>The first rows of a listing (row indexes, in order) and how many rows match in all.</summary>
/// <param name="Top">Row indexes, best first.</param>
/// <param name="Matched">Rows that match the filter.</param>
internal sealed record Listing(int[] Top, int Matched);
