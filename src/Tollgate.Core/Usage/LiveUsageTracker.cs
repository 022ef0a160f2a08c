using System.Collections.Concurrent;

namespace Tollgate.Usage;

/// <summary>
/// The last minute of every tenant's traffic, in memory: sixty one-second slots of counts, and six ten-second slots of
/// latency sketches (<see cref="LatencySketch"/>, percentiles within 1 %). Fed by the usage writer (off the request
/// path), read by the live dashboard, so that neither ever counts rows in the database.
/// </summary>
/// <remarks>
/// Sketches per ten seconds, not per second: a sketch holds a bin per 2 % of the latencies it has seen (a few hundred
/// for a busy API, 8 bytes each), so sixty of them per tenant would be ~100 KB where the 18 fixed buckets they replace
/// took 8.6 KB; six take about as much as those did. The p95 so covers the last 50 to 60 seconds.
/// </remarks>
public sealed class LiveUsageTracker(TimeProvider time) : ILiveUsageView
{
    private const int Slots = 60;
    private readonly ConcurrentDictionary<long, TenantWindow> _windows = new();

    // The tenants with traffic in the last minute: what the dashboard reads each tick instead of every tenant. A window
    // joins on an event when it is not listed and leaves when a read of the set (Active) finds its minute over.
    private readonly ConcurrentDictionary<long, TenantWindow> _active = new();

    // Tenants whose figures changed without traffic (their stored usage was rewritten), until the dashboard reads them.
    private readonly ConcurrentDictionary<long, byte> _touched = new();

    /// <summary>Adds one event.</summary>
    public void Record(in UsageEvent e)
    {
        var window = _windows.GetOrAdd(e.TenantId, static _ => new TenantWindow());
        window.Add(e);
        // Read after Add's interlocked write of the window's last second: either this sees the flag a pruning Active
        // cleared, or that pruning sees the new second (Active).
        if (!window.Listed)
        {
            window.Listed = true;
            _active.TryAdd(e.TenantId, window);
        }
    }

    /// <inheritdoc />
    public void AddActive(ISet<long> tenants)
    {
        ArgumentNullException.ThrowIfNull(tenants);
        foreach (var (tenantId, _) in Active(time.GetUtcNow().ToUnixTimeSeconds()))
        {
            tenants.Add(tenantId);
        }
    }

    /// <summary>Marks a tenant whose figures changed without traffic (its stored usage rewritten), for the next dashboard pass.</summary>
    public void Touch(long tenantId) => _touched.TryAdd(tenantId, 0);

    /// <summary>Moves the tenants <see cref="Touch"/> marked since the last call into <paramref name="tenants"/>.</summary>
    public void DrainTouched(ISet<long> tenants)
    {
        ArgumentNullException.ThrowIfNull(tenants);
        foreach (var tenantId in _touched.Keys)
        {
            if (_touched.TryRemove(tenantId, out _))
            {
                tenants.Add(tenantId);
            }
        }
    }

    /// <summary>The tenant's traffic over the last sixty seconds, on this instance.</summary>
    public LiveStats StatsOf(long tenantId) =>
        _windows.TryGetValue(tenantId, out var window) ? window.Read(time.GetUtcNow().ToUnixTimeSeconds()).ToStats() : default;

    /// <summary>The raw last-minute counts of every tenant with traffic on this instance, for sharing with other instances.</summary>
    public IEnumerable<(long TenantId, LiveCounts Counts)> ReadAll()
    {
        var now = time.GetUtcNow().ToUnixTimeSeconds();
        foreach (var (tenantId, window) in Active(now))
        {
            var counts = window.Read(now);
            if (counts.Requests > 0)
            {
                yield return (tenantId, counts);
            }
        }
    }

    /// <summary>The windows with traffic in the minute up to <paramref name="now"/>; the others leave the active set.</summary>
    private IEnumerable<(long TenantId, TenantWindow Window)> Active(long now)
    {
        foreach (var (tenantId, window) in _active)
        {
            if (window.ActiveAt(now))
            {
                yield return (tenantId, window);
                continue;
            }

            // Its minute is over: it leaves the set. An event counted meanwhile may have seen the window still listed,
            // so look once more after the removal and keep it when it is busy after all (see Record).
            window.Listed = false;
            _active.TryRemove(new KeyValuePair<long, TenantWindow>(tenantId, window));
            if (window.ActiveAt(now))
            {
                window.Listed = true;
                _active.TryAdd(tenantId, window);
                yield return (tenantId, window);
            }
        }
    }

    /// <summary>Forgets a deleted tenant.</summary>
    public void Forget(long tenantId)
    {
        _windows.TryRemove(tenantId, out _);
        _active.TryRemove(tenantId, out _);
    }

    private sealed class TenantWindow
    {
        private const int LatencySlots = 6;
        private const int LatencySlotSeconds = Slots / LatencySlots;
        private readonly Lock _gate = new();
        private readonly long[] _second = new long[Slots];
        private readonly long[] _requests = new long[Slots];
        private readonly long[] _errors = new long[Slots];
        private readonly long[] _rejected = new long[Slots];
        private readonly long[] _latencyStart = new long[LatencySlots];
        private readonly LatencySketch[] _latency = [.. Enumerable.Range(0, LatencySlots).Select(_ => new LatencySketch())];

        // The latest second an event was counted in; read without the lock by ActiveAt.
        private long _lastSecond = long.MinValue / 2;
        private volatile bool _listed;

        /// <summary>Whether the window is in the tracker's active set (or being put there).</summary>
        public bool Listed
        {
            get => _listed;
            set => _listed = value;
        }

        /// <summary>Whether the window counts any second of the minute up to <paramref name="nowSecond"/>.</summary>
        public bool ActiveAt(long nowSecond) => Volatile.Read(ref _lastSecond) > nowSecond - Slots;

        public void Add(in UsageEvent e)
        {
            var second = new DateTimeOffset(e.Timestamp).ToUnixTimeSeconds();
            var slot = (int)(second % Slots);
            lock (_gate)
            {
                if (_second[slot] != second)
                {
                    if (_second[slot] > second)
                    {
                        return; // Older than the window: no longer "live".
                    }

                    _second[slot] = second;
                    _requests[slot] = 0;
                    _errors[slot] = 0;
                    _rejected[slot] = 0;
                }

                if (second > _lastSecond)
                {
                    // Interlocked: a full fence before Record reads Listed.
                    Interlocked.Exchange(ref _lastSecond, second);
                }

                _requests[slot]++;
                if (e.IsError)
                {
                    _errors[slot]++;
                }

                if (e.IsRejected)
                {
                    _rejected[slot]++;
                }

                var start = second - second % LatencySlotSeconds;
                var latencySlot = (int)(start / LatencySlotSeconds % LatencySlots);
                if (_latencyStart[latencySlot] != start)
                {
                    if (_latencyStart[latencySlot] > start)
                    {
                        return; // The counts above took it; its ten seconds' sketch has been reused for later ones.
                    }

                    _latencyStart[latencySlot] = start;
                    _latency[latencySlot].Clear();
                }

                _latency[latencySlot].Add(e.LatencyMicros);
            }
        }

        public LiveCounts Read(long nowSecond)
        {
            var latency = new LatencySketch();
            long requests = 0, errors = 0, rejected = 0;
            lock (_gate)
            {
                for (var slot = 0; slot < Slots; slot++)
                {
                    if (_second[slot] <= nowSecond - Slots || _second[slot] > nowSecond)
                    {
                        continue;
                    }

                    requests += _requests[slot];
                    errors += _errors[slot];
                    rejected += _rejected[slot];
                }

                // The ten-second sketches that began within the last minute: together the last 51 to 60 seconds.
                for (var slot = 0; slot < LatencySlots; slot++)
                {
                    if (_latencyStart[slot] > nowSecond - Slots && _latencyStart[slot] <= nowSecond)
                    {
                        latency.Merge(_latency[slot]);
                    }
                }
            }

            return new LiveCounts(requests, errors, rejected, latency);
        }
    }
}

/// <summary>What the live dashboard reads: each tenant's traffic over the last minute.</summary>
public interface ILiveUsageView
{
    /// <summary>The tenant's last minute: on this instance, or on all of them when they share through Redis.</summary>
    LiveStats StatsOf(long tenantId);

    /// <summary>
    /// Adds to <paramref name="tenants"/> every tenant with traffic in the last minute (and maybe a few more): every other
    /// tenant's <see cref="StatsOf"/> is zero. The dashboard reads these each tick instead of every tenant.
    /// </summary>
    void AddActive(ISet<long> tenants);
}

/// <summary>Raw last-minute counts that add up across instances (the latency sketch included).</summary>
/// <param name="Requests">Metered requests.</param>
/// <param name="Errors">Admitted requests answered 4xx or 5xx.</param>
/// <param name="Rejected">Requests refused by a limit.</param>
/// <param name="Latency">The requests' latencies; merged, not shared, by <see cref="Plus"/>.</param>
public sealed record LiveCounts(long Requests, long Errors, long Rejected, LatencySketch Latency)
{
    /// <summary>The figures the dashboard shows.</summary>
    public LiveStats ToStats() => new(Requests, Errors, Rejected, Latency.PercentileMs(95));

    /// <summary>Adds another instance's counts.</summary>
    public LiveCounts Plus(LiveCounts other)
    {
        ArgumentNullException.ThrowIfNull(other);
        var latency = new LatencySketch();
        latency.Merge(Latency);
        latency.Merge(other.Latency);
        return new LiveCounts(Requests + other.Requests, Errors + other.Errors, Rejected + other.Rejected, latency);
    }
}

/// <summary>A tenant's traffic over the last minute.</summary>
/// <param name="Requests">Metered requests, refused ones included.</param>
/// <param name="Errors">Admitted requests answered 4xx or 5xx.</param>
/// <param name="Rejected">Requests refused by a limit.</param>
/// <param name="P95LatencyMs">95th percentile latency in milliseconds; null without traffic.</param>
public readonly record struct LiveStats(long Requests, long Errors, long Rejected, double? P95LatencyMs)
{
    /// <summary>Errors over requests, 0 without traffic.</summary>
    public double ErrorRate => Requests == 0 ? 0 : Math.Round((double)Errors / Requests, 4);
}
