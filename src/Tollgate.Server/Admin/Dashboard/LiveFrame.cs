using System.Collections.Concurrent;
using System.Numerics;
using Tollgate.Data;
using Tollgate.Keys;
using Tollgate.Limits;

namespace Tollgate.Admin;

/// <summary>
/// The live table of every tenant at one moment (see <see cref="LiveBoard"/>), with the views cut from it. A view's
/// filtered, ordered listing is computed once per frame and shared by every viewer who asks for it; so is the page.
/// </summary>
/// <param name="Sequence">Counts frames from 1.</param>
/// <param name="TakenAt">When the frame was started (<see cref="TimeProvider.GetTimestamp"/>).</param>
/// <param name="GeneratedAt">When the frame was taken (UTC).</param>
/// <param name="Directory">The directory snapshot the rows follow (ordered by name).</param>
/// <param name="Rows">One row per tenant, in the directory's (name) order.</param>
/// <param name="Totals">Figures over every tenant.</param>
/// <param name="Storage">Where usage events go.</param>
internal sealed record LiveFrame(
    long Sequence, long TakenAt, DateTime GeneratedAt, IReadOnlyList<TenantContext> Directory, LiveRows Rows,
    DashboardTotalsDto Totals, DashboardStorageDto Storage)
{
    private readonly ConcurrentDictionary<(long? Tenant, DashboardView View), Lazy<LivePage>> _pages = new();
    private readonly ConcurrentDictionary<(long? Tenant, ListingKey Listing, int Depth), Lazy<Listing>> _listings = new();
    private readonly ConcurrentDictionary<(long? Tenant, DashboardView View, long Since), string> _messages = new();
    private Dictionary<long, int>? _indexById;

    /// <summary>The earliest end of a quota period among the rows: the board reads every tenant again then.</summary>
    public DateTime NextReset { get; init; } = DateTime.MaxValue;

    /// <summary>The board's listings, which views over every tenant are cut from; null: made from every row each time.</summary>
    public LiveListings? Listings { get; init; }

    /// <summary>Row index by tenant id, when the board has one for the directory.</summary>
    public Dictionary<long, int>? Index { get; init; }

    /// <summary>The rows the admin may see, in name order (the whole table, as asked without view parameters).</summary>
    public IReadOnlyList<DashboardTenantDto> Visible(AdminScope scope)
    {
        ArgumentNullException.ThrowIfNull(scope);
        if (scope.SeesAllTenants)
        {
            return Rows;
        }

        return scope.TenantId is { } id && IndexOf(id) is { } index ? [Rows[index]] : [];
    }

    /// <summary>The page of <paramref name="view"/> that <paramref name="scope"/> sees; computed once per frame and view.</summary>
    public LivePage PageOf(AdminScope scope, DashboardView view)
    {
        ArgumentNullException.ThrowIfNull(scope);
        long? tenant = scope.SeesAllTenants ? null : scope.TenantId ?? -1;
        return _pages.GetOrAdd((tenant, view), static (key, frame) => new Lazy<LivePage>(() => frame.CutPage(key.Tenant, key.View)), this).Value;
    }

    /// <summary>
    /// A stream message for the page of <paramref name="view"/> since frame <paramref name="since"/>, made once for all
    /// viewers of the view who were sent that frame.
    /// </summary>
    public string MessageFor(AdminScope scope, DashboardView view, long since, Func<string> make)
    {
        ArgumentNullException.ThrowIfNull(scope);
        ArgumentNullException.ThrowIfNull(make);
        long? tenant = scope.SeesAllTenants ? null : scope.TenantId ?? -1;
        return _messages.GetOrAdd((tenant, view, since), static (_, make) => make(), make);
    }

    private int? IndexOf(long tenantId)
    {
        _indexById ??= Index ?? BuildIndex(Rows);
        return _indexById.TryGetValue(tenantId, out var index) ? index : null;
    }

    private static Dictionary<long, int> BuildIndex(LiveRows rows)
    {
        var index = new Dictionary<long, int>(rows.Count);
        for (var i = 0; i < rows.Count; i++)
        {
            index[rows[i].Id] = i;
        }

        return index;
    }

    private LivePage CutPage(long? tenant, DashboardView view)
    {
        // Views that reach about as deep share one listing: the first pages of every viewer of an order cost one pass.
        var depth = (int)Math.Min(BitOperations.RoundUpToPowerOf2((uint)Math.Max(64, (long)view.Offset + view.Limit)), int.MaxValue);
        var listing = _listings.GetOrAdd(
            (tenant, new ListingKey(view.Sort, view.Descending, view.Status, view.Query, view.Plan), depth),
            static (key, frame) => new Lazy<Listing>(() => frame.List(key.Tenant, key.Listing, key.Depth)),
            this).Value;
        var start = Math.Min(view.Offset, listing.Top.Length);
        var count = Math.Min(view.Limit, listing.Top.Length - start);
        var page = new DashboardTenantDto[count];
        for (var i = 0; i < count; i++)
        {
            page[i] = Rows[listing.Top[start + i]];
        }

        var totals = tenant is null ? Totals : TotalsOf(tenant.Value);
        return new LivePage(this, view, page, listing.Matched, totals);
    }

    /// <summary>The indexes of the first <paramref name="depth"/> rows that match, in the view's order, and how many match.</summary>
    private Listing List(long? tenant, ListingKey listing, int depth)
    {
        if (tenant is { } id)
        {
            return IndexOf(id) is { } only && LiveListings.Matches(Rows[only], listing) ? new([only], 1) : new([], 0);
        }

        return Listings is not null ? Listings.Get(this, listing, depth) : LiveListings.Once(this, listing, depth);
    }

    private DashboardTotalsDto TotalsOf(long tenantId)
    {
        if (IndexOf(tenantId) is not { } index)
        {
            return new DashboardTotalsDto(0, 0, 0, 0, 0, 0, 0, 0);
        }

        var row = Rows[index];
        return new DashboardTotalsDto(
            1, row.RequestsLastMinute, row.Used, row.ErrorRate,
            row.Status == UsageStatus.Normal ? 1 : 0, row.Status == UsageStatus.Warning ? 1 : 0, row.Status == UsageStatus.Blocked ? 1 : 0,
            row.TenantStatus == TenantStatus.Suspended ? 1 : 0);
    }
}

/// <summary>One page of a view, cut from a frame.</summary>
/// <param name="Frame">The frame it was cut from.</param>
/// <param name="View">The view.</param>
/// <param name="Rows">The page's rows, in order.</param>
/// <param name="Matched">Tenants that match the view's filter.</param>
/// <param name="Totals">Totals over the tenants the admin may see.</param>
internal sealed record LivePage(LiveFrame Frame, DashboardView View, DashboardTenantDto[] Rows, int Matched, DashboardTotalsDto Totals)
{
    /// <summary>The page as the API answers it.</summary>
    public DashboardPageDto ToDto() => new(
        Frame.GeneratedAt, Rows, Frame.Storage, Totals, Matched, View.Offset, View.Limit,
        View.Sort.ToString().ToLowerInvariant(), View.Descending ? "desc" : "asc", Frame.Sequence);

    /// <summary>What changed since <paramref name="before"/>, a page of the same view from an earlier frame.</summary>
    public DashboardDeltaDto DeltaSince(LivePage before)
    {
        ArgumentNullException.ThrowIfNull(before);
        var sameOrder = before.Rows.Length == Rows.Length;
        for (var i = 0; sameOrder && i < Rows.Length; i++)
        {
            sameOrder = before.Rows[i].Id == Rows[i].Id;
        }

        List<DashboardTenantDto>? changed = null;
        if (sameOrder)
        {
            for (var i = 0; i < Rows.Length; i++)
            {
                if (!ReferenceEquals(before.Rows[i], Rows[i]))
                {
                    (changed ??= []).Add(Rows[i]);
                }
            }
        }
        else
        {
            var old = new Dictionary<long, DashboardTenantDto>(before.Rows.Length);
            foreach (var row in before.Rows)
            {
                old[row.Id] = row;
            }

            foreach (var row in Rows)
            {
                if (!old.TryGetValue(row.Id, out var was) || !ReferenceEquals(was, row))
                {
                    (changed ??= []).Add(row);
                }
            }
        }

        return new DashboardDeltaDto(
            Frame.Sequence,
            Frame.GeneratedAt,
            sameOrder ? null : Array.ConvertAll(Rows, r => r.Id),
            changed,
            Totals == before.Totals ? null : Totals,
            Matched == before.Matched ? null : Matched,
            Frame.Storage == before.Frame.Storage ? null : Frame.Storage);
    }
}
