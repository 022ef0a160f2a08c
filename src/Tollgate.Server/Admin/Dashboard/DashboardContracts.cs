using System.Text.Json.Serialization;

namespace Tollgate.Admin;

/// <summary>Figures over every tenant the admin may see, whatever the page shows.</summary>
/// <param name="Tenants">Tenants.</param>
/// <param name="RequestsLastMinute">Metered requests in the last 60 s, summed.</param>
/// <param name="Used">Admitted requests this period, summed over the tenants' own periods.</param>
/// <param name="ErrorRate">Errors over requests in the last 60 s, over every tenant; 0 without traffic.</param>
/// <param name="Normal">Tenants below 80 % of their quota.</param>
/// <param name="Warning">Tenants at 80 % of their quota or more.</param>
/// <param name="Blocked">Tenants whose quota is used up.</param>
/// <param name="Suspended">Suspended tenants (counted in their usage status too).</param>
public sealed record DashboardTotalsDto(
    int Tenants, long RequestsLastMinute, long Used, double ErrorRate, int Normal, int Warning, int Blocked, int Suspended);

/// <summary>One page of the live table (<c>/api/dashboard-data</c> with view parameters, and the stream's <c>page</c> event).</summary>
/// <param name="GeneratedAt">When the figures were taken (UTC).</param>
/// <param name="Tenants">The page's rows, in the view's order.</param>
/// <param name="Storage">Where usage events go.</param>
/// <param name="Totals">Figures over every tenant the admin may see.</param>
/// <param name="Matched">Tenants that match the filter (the rows of every page together).</param>
/// <param name="Offset">Rows skipped before this page.</param>
/// <param name="Limit">Most rows of a page.</param>
/// <param name="Sort">The order (see <see cref="DashboardSort"/>), lower case.</param>
/// <param name="Dir">asc or desc.</param>
/// <param name="Sequence">Which computation of the table this is; a stream's deltas count on from it.</param>
public sealed record DashboardPageDto(
    DateTime GeneratedAt, IReadOnlyList<DashboardTenantDto> Tenants, DashboardStorageDto Storage, DashboardTotalsDto Totals,
    int Matched, int Offset, int Limit, string Sort, string Dir, long Sequence);

/// <summary>
/// What changed in a streamed page since the stream's previous message (the <c>delta</c> event). A member that is
/// absent did not change.
/// </summary>
/// <param name="Sequence">Which computation of the table this is.</param>
/// <param name="GeneratedAt">When the figures were taken (UTC).</param>
/// <param name="Order">The page's tenant ids in order, when the page's members or order changed; rows not in it leave.</param>
/// <param name="Rows">Rows that are new to the page or whose figures changed.</param>
/// <param name="Totals">The totals, when they changed.</param>
/// <param name="Matched">Tenants that match the filter, when that changed.</param>
/// <param name="Storage">Where usage events go, when that changed.</param>
public sealed record DashboardDeltaDto(
    long Sequence,
    DateTime GeneratedAt,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<long>? Order,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<DashboardTenantDto>? Rows,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DashboardTotalsDto? Totals,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? Matched,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DashboardStorageDto? Storage);
