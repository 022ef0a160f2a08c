using System.ComponentModel;

namespace Tollgate.Admin;

/// <summary>The query parameters of a view of the live table, as OpenAPI describes them.</summary>
internal readonly struct DashboardViewParameters
{
    /// <summary>Most rows of the page.</summary>
    [Description("Most rows of the page, 1 to 1000; default 50.")]
    public string? Limit { get; init; }

    /// <summary>Rows to skip.</summary>
    [Description("Rows to skip, 0 or more; default 0. Past the last match the page is empty.")]
    public string? Offset { get; init; }

    /// <summary>The order.</summary>
    [Description("attention (default: Blocked, then Warning, then by share of quota used), status, usage, rpm, p95, errors, reset, name or plan.")]
    public string? Sort { get; init; }

    /// <summary>The direction.</summary>
    [Description("asc or desc; default desc for numbers and status, asc for name, plan and reset. Ties go by name, A to Z.")]
    public string? Dir { get; init; }

    /// <summary>Status filter.</summary>
    [Description("Only tenants with this status: Normal, Warning, Blocked, or Suspended (the tenant's own status).")]
    public string? Status { get; init; }

    /// <summary>Name search.</summary>
    [Description("Only tenants whose name contains this, case-insensitive; at most 100 characters.")]
    public string? Q { get; init; }

    /// <summary>Plan filter.</summary>
    [Description("Only tenants on the plan of this name, case-insensitive.")]
    public string? Plan { get; init; }

    /// <summary>The view these parameters ask for; what is wrong goes to <paramref name="errors"/>.</summary>
    public DashboardView Parse(Dictionary<string, string[]> errors) => DashboardView.Parse(Limit, Offset, Sort, Dir, Status, Q, Plan, errors);
}
