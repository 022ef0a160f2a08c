using System.Buffers;
using Tollgate.Data;
using Tollgate.Keys;
using Tollgate.Limits;
using Tollgate.Usage;

namespace Tollgate.Admin;

/// <summary>
/// Takes the live table of every tenant — the directory, the limit store's counts and the live counters — at most
/// once per <c>maxAge</c> however many viewers ask, and hands every viewer the same <see cref="LiveFrame"/>. Views
/// (filter, order, page) are cut from that frame and shared too (<see cref="LiveListings"/>).
/// </summary>
/// <remarks>
/// A tick reads only the tenants whose figures can have changed since the previous one: those with traffic in the last
/// minute (<see cref="ILiveUsageView.AddActive"/>, on every instance when they share through Redis), those that had
/// traffic at the previous tick (their minute may just have ended), and those whose stored usage was rewritten. Every
/// other row is the previous frame's object. Measured at 100,000 tenants with a trickle of traffic: a pass over every
/// tenant took about 30 ms, twice a second for a single viewer (6.2 % of a core); a tick now costs in proportion to the
/// active tenants. A pass over every tenant still comes when the directory changes, when a quota period ends for some
/// tenant, after a gap between frames long enough for a tenant's whole minute of traffic to fall between them, and every
/// <see cref="FullPassInterval"/> to catch what no event announces (the limit store falling back from Redis and back).
/// </remarks>
internal sealed class LiveBoard : IDisposable
{
    /// <summary>Longest time between two passes over every tenant (30 s; tests set it longer to see the other causes).</summary>
    internal TimeSpan FullPassInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Longest gap between two frames for the second to read only the active tenants: a tenant whose whole minute of
    /// traffic fell between them is active at neither, so after a longer gap every tenant is read (ten seconds short of
    /// the live window's minute, which counts whole seconds).
    /// </summary>
    private static readonly TimeSpan SinceLastFrame = TimeSpan.FromSeconds(50);

    // Enough frames' changes for a view asked for once a second while GETs make frames in between.
    private const int ChangeHistory = 32;

    private readonly TenantDirectory _tenants;
    private readonly ILimitStore _limits;
    private readonly ILiveUsageView _live;
    private readonly LiveUsageTracker _local;
    private readonly UsageStorageStatus _storage;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly (long Sequence, int[]? Changed)[] _changes = new (long, int[]?)[ChangeHistory];
    private LiveFrame? _current;
    private long _sequence;
    private long _lastFullPass;
    private HashSet<long> _tracked = [];
    private IReadOnlyList<TenantContext>? _indexed;
    private Dictionary<long, int> _index = [];

    /// <summary>Makes the board; <paramref name="local"/> carries the tenants whose usage was rewritten.</summary>
    public LiveBoard(
        TenantDirectory tenants, ILimitStore limits, ILiveUsageView live, LiveUsageTracker local, UsageStorageStatus storage, TimeProvider time)
    {
        _tenants = tenants;
        _limits = limits;
        _live = live;
        _local = local;
        _storage = storage;
        _time = time;
        Listings = new LiveListings(this, time);
    }

    /// <summary>The views' listings, kept up to date from frame to frame.</summary>
    public LiveListings Listings { get; }

    /// <summary>How long the latest pass took (for the scale tests' figures).</summary>
    public TimeSpan LastPass { get; private set; }

    /// <summary>How many tenants the latest pass read: every tenant on a full pass, the active ones otherwise.</summary>
    public int LastPassTenants { get; private set; }

    /// <summary>
    /// A frame taken no earlier than <paramref name="maxAge"/> before this call: the current one when it is young
    /// enough, else a new one (callers who wait meanwhile take the one being made).
    /// </summary>
    public async ValueTask<LiveFrame> FrameAsync(TimeSpan maxAge, CancellationToken ct)
    {
        var asked = _time.GetTimestamp();
        if (Fresh(_current, asked, maxAge) is { } young)
        {
            return young;
        }

        await _gate.WaitAsync(ct);
        try
        {
            if (Fresh(_current, asked, maxAge) is { } made)
            {
                return made;
            }

            // On a thread of its own: a pass over 100,000 tenants holds a thread for tens of milliseconds (the first
            // one, creating every tenant's counter, for hundreds), and on a thread-pool thread of a two-core machine that
            // queued the page's other requests behind it (ScaleBrowserTests: /api/auth/me answered after ~420 ms).
            var previous = _current;
            var next = await Task.Factory.StartNew(
                () => TakeAsync(previous, ct), ct, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
            _current = next;
            return next;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    public void Dispose() => _gate.Dispose();

    /// <summary>
    /// The rows (indexes) that changed from frame <paramref name="from"/> to frame <paramref name="to"/>; null when that
    /// is not known (a pass over every tenant in between, or frames too far apart).
    /// </summary>
    internal HashSet<int>? ChangedBetween(long from, long to)
    {
        if (to - from > ChangeHistory || from >= to)
        {
            return null;
        }

        var changed = new HashSet<int>();
        lock (_changes)
        {
            for (var sequence = from + 1; sequence <= to; sequence++)
            {
                var (at, rows) = _changes[sequence % ChangeHistory];
                if (at != sequence || rows is null)
                {
                    return null;
                }

                changed.UnionWith(rows);
            }
        }

        return changed;
    }

    // A frame of an older directory is never fresh: a tenant just added or renamed shows on the next message.
    private LiveFrame? Fresh(LiveFrame? frame, long asked, TimeSpan maxAge) =>
        frame is not null && ReferenceEquals(frame.Directory, _tenants.All)
        && (frame.TakenAt >= asked || _time.GetElapsedTime(frame.TakenAt, asked) <= maxAge) ? frame : null;

    private async Task<LiveFrame> TakeAsync(LiveFrame? previous, CancellationToken ct)
    {
        var takenAt = _time.GetTimestamp();
        var now = _time.GetUtcNow().UtcDateTime;
        var all = _tenants.All;
        var active = new HashSet<long>();
        _live.AddActive(active);
        var touched = new HashSet<long>();
        _local.DrainTouched(touched);

        LiveFrame frame;
        if (previous is not null && ReferenceEquals(previous.Directory, all) && now < previous.NextReset
            && _time.GetElapsedTime(_lastFullPass, takenAt) < FullPassInterval
            && _time.GetElapsedTime(previous.TakenAt, takenAt) < SinceLastFrame
            && Dirty(active, touched, all.Count) is { } dirty)
        {
            frame = await TakeChangedAsync(previous, all, dirty, takenAt, ct);
        }
        else
        {
            frame = await TakeEveryAsync(previous, all, takenAt, ct);
            _lastFullPass = takenAt;
        }

        // A tenant active now is read once more at the next tick even when it went quiet: its figures fall to zero then.
        _tracked = active;
        LastPass = _time.GetElapsedTime(takenAt);
        return frame;
    }

    /// <summary>The tenants to read again; null when they are so many that a pass over every tenant costs about as much.</summary>
    private HashSet<long>? Dirty(HashSet<long> active, HashSet<long> touched, int tenants)
    {
        var dirty = new HashSet<long>(active);
        dirty.UnionWith(_tracked);
        dirty.UnionWith(touched);
        return dirty.Count > tenants / 4 ? null : dirty;
    }

    private Dictionary<long, int> IndexOf(IReadOnlyList<TenantContext> all)
    {
        if (!ReferenceEquals(_indexed, all))
        {
            var index = new Dictionary<long, int>(all.Count);
            for (var i = 0; i < all.Count; i++)
            {
                index[all[i].Id] = i;
            }

            (_indexed, _index) = (all, index);
        }

        return _index;
    }

    /// <summary>Reads the tenants at <paramref name="indexes"/> from the limit store, in one pipeline when it is remote.</summary>
    private async Task ReadUsagesAsync(IReadOnlyList<TenantContext> all, IReadOnlyList<int> indexes, QuotaUsage[] usages, CancellationToken ct)
    {
        // In process every peek is complete already: no task per tenant. With Redis the peeks are all started before
        // the first is awaited, so they leave as one pipeline instead of a round trip per tenant (1,000 tenants,
        // Redis on loopback, median of 40: 49.7 → 10.1 ms).
        List<(int Slot, Task<QuotaUsage> Peek)>? pending = null;
        for (var slot = 0; slot < indexes.Count; slot++)
        {
            var peek = _limits.PeekAsync(all[indexes[slot]], ct);
            if (peek.IsCompletedSuccessfully)
            {
                usages[slot] = peek.Result;
            }
            else
            {
                (pending ??= []).Add((slot, peek.AsTask()));
            }
        }

        if (pending is not null)
        {
            await Task.WhenAll(pending.Select(p => p.Peek));
            foreach (var (slot, peek) in pending)
            {
                usages[slot] = peek.Result;
            }
        }
    }

    /// <summary>A tick that reads only <paramref name="dirty"/>; every other row, and the totals' share of it, carry over.</summary>
    private async Task<LiveFrame> TakeChangedAsync(
        LiveFrame previous, IReadOnlyList<TenantContext> all, HashSet<long> dirty, long takenAt, CancellationToken ct)
    {
        var index = IndexOf(all);
        var indexes = new List<int>(dirty.Count);
        foreach (var id in dirty)
        {
            if (index.TryGetValue(id, out var i))
            {
                indexes.Add(i);
            }
        }

        var usages = new QuotaUsage[indexes.Count];
        await ReadUsagesAsync(all, indexes, usages, ct);

        var rows = previous.Rows;
        var changed = new List<(int Index, DashboardTenantDto Row)>();
        var totals = previous.Totals;
        // Only tenants with traffic in the last minute have requests or errors in it, and all of them are here.
        long requests = 0, errors = 0;
        long used = totals.Used;
        int normal = totals.Normal, warning = totals.Warning, blocked = totals.Blocked;
        var nextReset = previous.NextReset;
        for (var slot = 0; slot < indexes.Count; slot++)
        {
            var i = indexes[slot];
            var tenant = all[i];
            var usage = usages[slot];
            var stats = _live.StatsOf(tenant.Id);
            requests += stats.Requests;
            errors += stats.Errors;
            if (usage.ResetAt < nextReset)
            {
                nextReset = usage.ResetAt;
            }

            var old = rows[i];
            var status = usage.Status;
            if (Same(old, tenant, usage, status, stats))
            {
                continue;
            }

            changed.Add((i, Row(tenant, usage, status, stats)));
            used += usage.Used - old.Used;
            Count(old.Status, -1, ref normal, ref warning, ref blocked);
            Count(status, 1, ref normal, ref warning, ref blocked);
        }

        LastPassTenants = indexes.Count;
        var next = totals with
        {
            RequestsLastMinute = requests,
            Used = used,
            ErrorRate = requests == 0 ? 0 : Math.Round((double)errors / requests, 4),
            Normal = normal,
            Warning = warning,
            Blocked = blocked,
        };
        return Frame(previous, all, rows.With(changed), [.. changed.Select(c => c.Index)], next == totals ? totals : next, nextReset, takenAt);
    }

    /// <summary>A pass over every tenant.</summary>
    private async Task<LiveFrame> TakeEveryAsync(LiveFrame? previous, IReadOnlyList<TenantContext> all, long takenAt, CancellationToken ct)
    {
        // Pooled: at 100,000 tenants these are 4, 0.4 and 0.8 MB, and fresh ones per pass on the large object heap set
        // off a blocking gen-2 collection every few passes (the server runs non-concurrent workstation GC).
        var usages = ArrayPool<QuotaUsage>.Shared.Rent(all.Count);
        var indexes = ArrayPool<int>.Shared.Rent(all.Count);
        var rows = ArrayPool<DashboardTenantDto>.Shared.Rent(all.Count);
        try
        {
            for (var i = 0; i < all.Count; i++)
            {
                indexes[i] = i;
            }

            await ReadUsagesAsync(all, new ArraySegment<int>(indexes, 0, all.Count), usages, ct);
            return TakeEvery(previous, all, usages, rows, takenAt);
        }
        finally
        {
            ArrayPool<QuotaUsage>.Shared.Return(usages);
            ArrayPool<int>.Shared.Return(indexes);
            ArrayPool<DashboardTenantDto>.Shared.Return(rows, clearArray: true);
        }
    }

    private LiveFrame TakeEvery(LiveFrame? previous, IReadOnlyList<TenantContext> all, QuotaUsage[] usages, DashboardTenantDto[] rows, long takenAt)
    {
        // A row whose figures did not change is the previous frame's object: the streams find what changed by
        // reference, and an idle tenant costs no allocation per tick. Rows line up by index while the directory is
        // the same snapshot.
        var before = previous is not null && ReferenceEquals(previous.Directory, all) ? previous.Rows : null;
        // A reloaded directory (an admin change, or the periodic resync that finds nothing new) is a new snapshot:
        // rows are then found by tenant id, so an unchanged tenant keeps its row object and no stream sends it again.
        var byId = before is null && previous is not null ? previous.Rows.ToDictionary(r => r.Id) : null;
        long requests = 0, errors = 0, used = 0;
        int normal = 0, warning = 0, blocked = 0, suspended = 0;
        var nextReset = DateTime.MaxValue;
        for (var i = 0; i < all.Count; i++)
        {
            var tenant = all[i];
            var usage = usages[i];
            var stats = _live.StatsOf(tenant.Id);
            var status = usage.Status;
            var old = before is not null ? before[i] : byId?.GetValueOrDefault(tenant.Id);
            rows[i] = old is not null && Same(old, tenant, usage, status, stats) ? old : Row(tenant, usage, status, stats);
            requests += stats.Requests;
            errors += stats.Errors;
            used += usage.Used;
            Count(status, 1, ref normal, ref warning, ref blocked);
            if (tenant.Status == TenantStatus.Suspended)
            {
                suspended++;
            }

            if (usage.ResetAt < nextReset)
            {
                nextReset = usage.ResetAt;
            }
        }

        LastPassTenants = all.Count;
        var totals = new DashboardTotalsDto(
            all.Count, requests, used, requests == 0 ? 0 : Math.Round((double)errors / requests, 4), normal, warning, blocked, suspended);
        return Frame(previous, all, LiveRows.From(rows.AsSpan(0, all.Count)), null, previous?.Totals == totals ? previous.Totals : totals, nextReset, takenAt);
    }

    private LiveFrame Frame(
        LiveFrame? previous, IReadOnlyList<TenantContext> all, LiveRows rows, int[]? changed, DashboardTotalsDto totals,
        DateTime nextReset, long takenAt)
    {
        var storageDto = new DashboardStorageDto(_storage.State, _storage.Since, _storage.SpooledEvents, _storage.DroppedRows, _storage.RefusedRequests);
        if (previous is not null && previous.Storage == storageDto)
        {
            storageDto = previous.Storage;
        }

        var sequence = Interlocked.Increment(ref _sequence);
        lock (_changes)
        {
            _changes[sequence % ChangeHistory] = (sequence, changed);
        }

        return new LiveFrame(sequence, takenAt, _time.GetUtcNow().UtcDateTime, all, rows, totals, storageDto)
        {
            NextReset = nextReset,
            Listings = Listings,
            Index = IndexOf(all),
        };
    }

    private static DashboardTenantDto Row(TenantContext tenant, in QuotaUsage usage, UsageStatus status, in LiveStats stats) =>
        new(tenant.Id, tenant.Name, tenant.PlanName, usage.Used, usage.Limit, usage.Remaining, status,
            stats.Requests, stats.P95LatencyMs, stats.ErrorRate, usage.ResetAt, tenant.Status);

    private static void Count(UsageStatus status, int by, ref int normal, ref int warning, ref int blocked)
    {
        switch (status)
        {
            case UsageStatus.Blocked: blocked += by; break;
            case UsageStatus.Warning: warning += by; break;
            default: normal += by; break;
        }
    }

    private static bool Same(DashboardTenantDto row, TenantContext tenant, in QuotaUsage usage, UsageStatus status, in LiveStats stats) =>
        row.Used == usage.Used && row.Limit == usage.Limit && row.Status == status && row.ResetAt == usage.ResetAt
        && row.RequestsLastMinute == stats.Requests && row.P95LatencyMs == stats.P95LatencyMs && row.ErrorRate == stats.ErrorRate
        && row.TenantStatus == tenant.Status && string.Equals(row.Name, tenant.Name, StringComparison.Ordinal)
        && string.Equals(row.Plan, tenant.PlanName, StringComparison.Ordinal);
}
