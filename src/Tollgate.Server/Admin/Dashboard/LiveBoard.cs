using System.Buffers;
using Tollgate.Data;
using Tollgate.Keys;
using Tollgate.Limits;
using Tollgate.Usage;

namespace Tollgate.Admin;

/// <summary>
/// Takes the live table of every tenant — the directory, the limit store's counts and the live counters — at most
/// once per <c>maxAge</c> however many viewers ask, and hands every viewer the same <see cref="LiveFrame"/>. Views
/// (filter, order, page) are cut from that frame and shared too, so a tick costs one pass over the tenants plus one
/// per distinct view, never one per viewer.
/// </summary>
internal sealed class LiveBoard(
    TenantDirectory tenants, ILimitStore limits, ILiveUsageView live, UsageStorageStatus storage, TimeProvider time) : IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private LiveFrame? _current;
    private long _sequence;

    /// <summary>
    /// A frame taken no earlier than <paramref name="maxAge"/> before this call: the current one when it is young
    /// enough, else a new one (callers who wait meanwhile take the one being made).
    /// </summary>
    public async ValueTask<LiveFrame> FrameAsync(TimeSpan maxAge, CancellationToken ct)
    {
        var asked = time.GetTimestamp();
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

    /// <summary>How long the latest pass over every tenant took (for the scale tests' figures).</summary>
    public TimeSpan LastPass { get; private set; }

    /// <inheritdoc />
    public void Dispose() => _gate.Dispose();

    // A frame of an older directory is never fresh: a tenant just added or renamed shows on the next message.
    private LiveFrame? Fresh(LiveFrame? frame, long asked, TimeSpan maxAge) =>
        frame is not null && ReferenceEquals(frame.Directory, tenants.All)
        && (frame.TakenAt >= asked || time.GetElapsedTime(frame.TakenAt, asked) <= maxAge) ? frame : null;

    private async Task<LiveFrame> TakeAsync(LiveFrame? previous, CancellationToken ct)
    {
        var takenAt = time.GetTimestamp();
        var all = tenants.All;
        // Pooled: at 100,000 tenants this is 4 MB, and a fresh one per tick on the large object heap set off a
        // blocking gen-2 collection every few ticks (the server runs non-concurrent workstation GC).
        var usages = ArrayPool<QuotaUsage>.Shared.Rent(all.Count);
        try
        {
            return await TakeAsync(previous, all, usages, takenAt, ct);
        }
        finally
        {
            ArrayPool<QuotaUsage>.Shared.Return(usages);
        }
    }

    private async Task<LiveFrame> TakeAsync(
        LiveFrame? previous, IReadOnlyList<TenantContext> all, QuotaUsage[] usages, long takenAt, CancellationToken ct)
    {
        // In process every peek is complete already: no task per tenant. With Redis the peeks are all started before
        // the first is awaited, so they leave as one pipeline instead of a round trip per tenant (1,000 tenants,
        // Redis on loopback, median of 40: 49.7 → 10.1 ms).
        List<(int Index, Task<QuotaUsage> Peek)>? pending = null;
        for (var i = 0; i < all.Count; i++)
        {
            var peek = limits.PeekAsync(all[i], ct);
            if (peek.IsCompletedSuccessfully)
            {
                usages[i] = peek.Result;
            }
            else
            {
                (pending ??= []).Add((i, peek.AsTask()));
            }
        }

        if (pending is not null)
        {
            await Task.WhenAll(pending.Select(p => p.Peek));
            foreach (var (index, peek) in pending)
            {
                usages[index] = peek.Result;
            }
        }

        // A row whose figures did not change is the previous frame's object: the streams find what changed by
        // reference, and an idle tenant costs no allocation per tick. Rows line up by index while the directory is
        // the same snapshot.
        var before = previous is not null && ReferenceEquals(previous.Directory, all) ? previous.Rows : null;
        // A reloaded directory (an admin change, or the periodic resync every 10 s that finds nothing new) is a new
        // snapshot: rows are then found by tenant id, so an unchanged tenant keeps its row object and no stream sends
        // it again (before, every resync resent every row of every page).
        var byId = before is null && previous is not null ? previous.Rows.ToDictionary(r => r.Id) : null;
        var rows = new DashboardTenantDto[all.Count];
        long requests = 0, errors = 0, used = 0;
        int normal = 0, warning = 0, blocked = 0, suspended = 0;
        for (var i = 0; i < all.Count; i++)
        {
            var tenant = all[i];
            var usage = usages[i];
            var stats = live.StatsOf(tenant.Id);
            var status = usage.Status;
            var old = before is not null ? before[i] : byId?.GetValueOrDefault(tenant.Id);
            rows[i] = old is not null && Same(old, tenant, usage, status, stats)
                ? old
                : new DashboardTenantDto(
                    tenant.Id, tenant.Name, tenant.PlanName, usage.Used, usage.Limit, usage.Remaining, status,
                    stats.Requests, stats.P95LatencyMs, stats.ErrorRate, usage.ResetAt, tenant.Status);
            requests += stats.Requests;
            errors += stats.Errors;
            used += usage.Used;
            switch (status)
            {
                case UsageStatus.Blocked: blocked++; break;
                case UsageStatus.Warning: warning++; break;
                default: normal++; break;
            }

            if (tenant.Status == TenantStatus.Suspended)
            {
                suspended++;
            }
        }

        var totals = new DashboardTotalsDto(
            all.Count, requests, used, requests == 0 ? 0 : Math.Round((double)errors / requests, 4), normal, warning, blocked, suspended);
        var storageDto = new DashboardStorageDto(storage.State, storage.Since, storage.SpooledEvents, storage.DroppedRows, storage.RefusedRequests);
        if (previous is not null && previous.Storage == storageDto)
        {
            storageDto = previous.Storage;
        }

        LastPass = time.GetElapsedTime(takenAt);
        return new LiveFrame(
            Interlocked.Increment(ref _sequence), takenAt, time.GetUtcNow().UtcDateTime, all, rows,
            previous?.Totals == totals ? previous.Totals : totals, storageDto);
    }

    private static bool Same(DashboardTenantDto row, TenantContext tenant, in QuotaUsage usage, UsageStatus status, in LiveStats stats) =>
        row.Used == usage.Used && row.Limit == usage.Limit && row.Status == status && row.ResetAt == usage.ResetAt
        && row.RequestsLastMinute == stats.Requests && row.P95LatencyMs == stats.P95LatencyMs && row.ErrorRate == stats.ErrorRate
        && row.TenantStatus == tenant.Status && string.Equals(row.Name, tenant.Name, StringComparison.Ordinal)
        && string.Equals(row.Plan, tenant.PlanName, StringComparison.Ordinal);
}
