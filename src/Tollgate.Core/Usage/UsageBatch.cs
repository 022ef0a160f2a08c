using System.Runtime.InteropServices;
using Tollgate.Limits;

namespace Tollgate.Usage;

/// <summary>
/// A batch of events with the aggregates the database needs, computed once in memory so that each
/// provider's store only writes them: roll-up rows, quota counter increments and keys' last use.
/// </summary>
public sealed class UsageBatch
{
    private readonly List<UsageEvent> _events;
    private readonly Dictionary<RollupKey, RollupValues> _rollups = [];
    private readonly Dictionary<QuotaKey, QuotaIncrement> _quota = [];
    private readonly List<(QuotaKey Key, long Count)> _shared = [];
    private readonly Dictionary<long, DateTime> _keysLastUsed = [];
    private readonly List<QuotaAlertRow> _alerts = [];

    // The roll-up row the last event went to, while it is in _rollups.
    private RollupKey _lastRollupKey;
    private RollupValues? _lastRollup;

    /// <summary>Creates an empty batch.</summary>
    public UsageBatch(int capacity = 0) => _events = new List<UsageEvent>(capacity);

    /// <summary>The raw events, in arrival order.</summary>
    public IReadOnlyList<UsageEvent> Events => _events;

    /// <summary>Roll-up increments by minute bucket.</summary>
    public IReadOnlyDictionary<RollupKey, RollupValues> Rollups => _rollups;

    /// <summary>
    /// The roll-up rows of a tier: the minute rows as they are, or merged into their hour or day (a batch spans a few
    /// minutes at most, so this is a handful of merges, done once per batch and tier by the store).
    /// </summary>
    public IReadOnlyDictionary<RollupKey, RollupValues> RollupsOf(RollupTier tier)
    {
        if (tier == RollupTier.Minute)
        {
            return _rollups;
        }

        var merged = new Dictionary<RollupKey, RollupValues>();
        foreach (var (key, values) in _rollups)
        {
            var coarse = key with { BucketStart = RollupTiers.Truncate(tier, key.BucketStart) };
            if (!merged.TryGetValue(coarse, out var sum))
            {
                sum = new RollupValues();
                merged[coarse] = sum;
            }

            sum.Add(values);
        }

        return merged;
    }

    /// <summary>Admitted requests by tenant and quota period, and what changes in their unshared part.</summary>
    public IReadOnlyDictionary<QuotaKey, QuotaIncrement> QuotaIncrements => _quota;

    /// <summary>Latest use of each key in the batch.</summary>
    public IReadOnlyDictionary<long, DateTime> KeysLastUsed => _keysLastUsed;

    /// <summary>
    /// The quota alerts the batch's events raised, one per tenant, threshold and period: stored with insert-or-ignore
    /// on <c>quota_alerts</c>' unique key, in the batch's transaction (the webhooks' outbox).
    /// </summary>
    public IReadOnlyList<QuotaAlertRow> Alerts => _alerts;

    /// <summary>Number of events.</summary>
    public int Count => _events.Count;

    /// <summary>True when the batch holds nothing to store: no rows and no aggregates.</summary>
    public bool IsEmpty => _events.Count == 0 && _rollups.Count == 0 && _keysLastUsed.Count == 0;

    /// <summary>
    /// The writer and sequence number of this batch, or null for a batch that is not the usage writer's (demo data).
    /// A store writes a marked batch only if its writer has not stored that sequence number yet (see
    /// <see cref="Data.UsageWriterMark"/>), so writing a batch twice stores it once.
    /// </summary>
    public UsageBatchMark? Mark { get; set; }

    /// <summary>
    /// Where the writer gathers keys' uses between writes of <c>last_used_at</c>: with it, events add nothing to
    /// <see cref="KeysLastUsed"/>, which the writer fills from it. Null: every key used gets an entry (tests, aggregates
    /// of dropped rows).
    /// </summary>
    public PendingKeyUses? KeyUses { get; set; }

    /// <summary>Adds a key's last use to write with this batch (the later one when it has one already).</summary>
    public void KeyUsed(long keyId, DateTime at)
    {
        if (!_keysLastUsed.TryGetValue(keyId, out var last) || last < at)
        {
            _keysLastUsed[keyId] = at;
        }
    }

    /// <summary>Set by a store that skipped this batch because its <see cref="Mark"/> was stored already.</summary>
    public bool AlreadyStored { get; set; }

    /// <summary>Adds an event and folds it into the aggregates.</summary>
    public void Add(in UsageEvent e)
    {
        _events.Add(e);
        AddWithoutRow(e);
    }

    /// <summary>
    /// Folds an event into the aggregates only: its raw row is dropped (storage failed and
    /// <see cref="StorageFailurePolicy.Admit"/> keeps serving), its roll-up, quota count and key use are kept.
    /// </summary>
    public void AddWithoutRow(in UsageEvent e)
    {
        var minute = new DateTime(e.Timestamp.Ticks - e.Timestamp.Ticks % TimeSpan.TicksPerMinute, DateTimeKind.Utc);
        // Steady traffic brings the same row as the event before (one route, one status, one minute): matched field by
        // field, with the method and route compared as the same string objects they are (the request's constants), it
        // skips hashing both strings for the dictionary, most of the 0.15 µs per event the roll-up look-up took in the
        // writer's profile (String.GetHashCode and the comparers, 2026-12-01). HotPathBenchmarks.FoldUsageEvent, the whole
        // fold of an event: 40–60 ns before, 20–22 ns with this and the quota's single look-up below.
        var values = _lastRollup;
        var row = _lastRollupKey;
        if (values is null || row.TenantId != e.TenantId || row.BucketStart != minute || !ReferenceEquals(row.Method, e.Method)
            || !ReferenceEquals(row.Endpoint, e.Endpoint) || row.StatusCode != e.StatusCode || row.Outcome != e.Outcome)
        {
            var key = new RollupKey(e.TenantId, minute, e.Method, e.Endpoint, e.StatusCode, e.Outcome);
            ref var slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_rollups, key, out _);
            values = slot ??= new RollupValues();
            (_lastRollupKey, _lastRollup) = (key, values);
        }

        values.Count++;
        values.LatencySumMicros += e.LatencyMicros;
        values.UpstreamLatencySumMicros += e.UpstreamLatencyMicros;
        values.Latency.Add(e.LatencyMicros);

        if (e.Outcome == LimitOutcome.Admitted)
        {
            ref var increment = ref CollectionsMarshal.GetValueRefOrAddDefault(_quota, new QuotaKey(e.TenantId, e.QuotaPeriod, e.QuotaPeriodStart), out _);
            increment = new QuotaIncrement(increment.Used + e.Cost, increment.Unshared + (e.Unshared ? e.Cost : 0));
        }

        if (e.Crossing is { } crossing && e.Outcome == LimitOutcome.Admitted)
        {
            foreach (var threshold in crossing.Thresholds)
            {
                _alerts.Add(new QuotaAlertRow(
                    e.TenantId, threshold, e.QuotaPeriod, e.QuotaPeriodStart, crossing.Used, crossing.Limit, e.Timestamp));
            }
        }

        if (_keysLastUsed.TryGetValue(e.ApiKeyId, out var last))
        {
            if (last < e.Timestamp)
            {
                _keysLastUsed[e.ApiKeyId] = e.Timestamp;
            }
        }
        else if (KeyUses is { } pending)
        {
            pending.Mark(e.ApiKeyId, e.Timestamp);
        }
        else
        {
            _keysLastUsed[e.ApiKeyId] = e.Timestamp;
        }
    }

    /// <summary>
    /// Records that admissions counted as unshared have since been added to the shared counter (Redis): the
    /// stored <c>unshared</c> goes down by <paramref name="count"/>, <c>used</c> stays.
    /// </summary>
    public void AddShared(QuotaKey key, long count)
    {
        var increment = _quota.GetValueOrDefault(key);
        _quota[key] = increment with { Unshared = increment.Unshared - count };
        _shared.Add((key, count));
    }

    /// <summary>Undoes every <see cref="AddShared"/> of this batch and returns them (the write failed: they wait for the next).</summary>
    public List<(QuotaKey Key, long Count)> TakeBackShared()
    {
        var taken = new List<(QuotaKey Key, long Count)>(_shared);
        foreach (var (key, count) in taken)
        {
            var increment = _quota[key];
            _quota[key] = increment with { Unshared = increment.Unshared + count };
        }

        _shared.Clear();
        return taken;
    }

    /// <summary>Empties the batch for reuse.</summary>
    public void Clear()
    {
        _events.Clear();
        _rollups.Clear();
        (_lastRollupKey, _lastRollup) = (default, null);
        _quota.Clear();
        _shared.Clear();
        _keysLastUsed.Clear();
        _alerts.Clear();
        Mark = null;
        AlreadyStored = false;
    }
}

/// <summary>Which writer made a batch, and its place in that writer's sequence.</summary>
/// <param name="WriterId">The writer (a GUID's "N" form, new per process start).</param>
/// <param name="Sequence">1, 2, 3, … in the order the writer made its batches; for several spooled batches replayed
/// as one, the last one's.</param>
/// <param name="FirstSequence">For several spooled batches replayed as one, the first one's; 0 for a single batch.</param>
public readonly record struct UsageBatchMark(string WriterId, long Sequence, long FirstSequence = 0)
{
    /// <summary>
    /// The batch is stored already (wholly or in part) when the writer's stored sequence is at least this. Batches
    /// reach the database in sequence order, so a range is either all new or starts with what is stored.
    /// </summary>
    public long From => FirstSequence == 0 ? Sequence : FirstSequence;
}

/// <summary>One <c>quota_alerts</c> row: a tenant's usage crossed a threshold of its quota in a period.</summary>
/// <param name="TenantId">The tenant.</param>
/// <param name="Threshold">The percentage crossed.</param>
/// <param name="Period">The quota period kind.</param>
/// <param name="PeriodStart">Start of the period (UTC).</param>
/// <param name="Used">The quota count after the crossing request.</param>
/// <param name="Limit">The quota.</param>
/// <param name="CrossedAt">When the crossing request arrived (UTC).</param>
public readonly record struct QuotaAlertRow(
    long TenantId, int Threshold, QuotaPeriod Period, DateTime PeriodStart, long Used, long Limit, DateTime CrossedAt);

/// <summary>The identity of a roll-up row.</summary>
/// <param name="TenantId">Tenant.</param>
/// <param name="BucketStart">Start of the minute (UTC).</param>
/// <param name="Method">HTTP method.</param>
/// <param name="Endpoint">Route template.</param>
/// <param name="StatusCode">Status code.</param>
/// <param name="Outcome">Limit outcome.</param>
public readonly record struct RollupKey(
    long TenantId, DateTime BucketStart, string Method, string Endpoint, int StatusCode, LimitOutcome Outcome);

/// <summary>What a batch adds to one roll-up row.</summary>
public sealed class RollupValues
{
    /// <summary>Requests.</summary>
    public long Count { get; set; }

    /// <summary>Sum of latencies in microseconds.</summary>
    public long LatencySumMicros { get; set; }

    /// <summary>Sum of the upstream's share of those latencies (gateway routes), in microseconds.</summary>
    public long UpstreamLatencySumMicros { get; set; }

    /// <summary>The latencies' distribution.</summary>
    public LatencySketch Latency { get; } = new();

    /// <summary>Adds another row's values to these.</summary>
    public void Add(RollupValues other)
    {
        ArgumentNullException.ThrowIfNull(other);
        Count += other.Count;
        LatencySumMicros += other.LatencySumMicros;
        UpstreamLatencySumMicros += other.UpstreamLatencySumMicros;
        Latency.Merge(other.Latency);
    }
}

/// <summary>The time buckets of the roll-up tables.</summary>
public enum RollupTier
{
    /// <summary>Per minute (<c>usage_rollups</c>).</summary>
    Minute,

    /// <summary>Per hour (<c>usage_rollups_hour</c>).</summary>
    Hour,

    /// <summary>Per day (<c>usage_rollups_day</c>).</summary>
    Day,
}

/// <summary>What each roll-up tier is: its table and its bucket.</summary>
public static class RollupTiers
{
    /// <summary>Every tier, finest first.</summary>
    public static IReadOnlyList<RollupTier> All { get; } = [RollupTier.Minute, RollupTier.Hour, RollupTier.Day];

    /// <summary>The tier's table.</summary>
    public static string Table(RollupTier tier) => tier switch
    {
        RollupTier.Minute => UsageTables.Rollups,
        RollupTier.Hour => UsageTables.HourRollups,
        _ => UsageTables.DayRollups,
    };

    /// <summary>The length of the tier's bucket.</summary>
    public static TimeSpan Length(RollupTier tier) => tier switch
    {
        RollupTier.Minute => TimeSpan.FromMinutes(1),
        RollupTier.Hour => TimeSpan.FromHours(1),
        _ => TimeSpan.FromDays(1),
    };

    /// <summary>The start of the tier's bucket a UTC time falls into.</summary>
    public static DateTime Truncate(RollupTier tier, DateTime time)
    {
        var length = Length(tier).Ticks;
        return new DateTime(time.Ticks - time.Ticks % length, DateTimeKind.Utc);
    }
}

/// <summary>What a batch adds to one quota counter row.</summary>
/// <param name="Used">Admitted units to add (a request counts its cost).</param>
/// <param name="Unshared">Change of the unshared part: + admissions made while Redis was away, − those since shared.</param>
public readonly record struct QuotaIncrement(long Used, long Unshared);
