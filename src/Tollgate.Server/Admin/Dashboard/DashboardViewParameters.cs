using System.ComponentModel;
using Microsoft.AspNetCore.Mvc;

namespace Tollgate.Admin;

/// <summary>The query parameters of a view of the live table, as OpenAPI describes them.</summary>
// Each text is also a [Description]: OpenAPI does not match the XML comment to a parameter renamed by [FromQuery].
internal readonly struct DashboardViewParameters
{
    /// <summary>Most rows of the page, 1 to 1000; default 50.</summary>
    [FromQuery(Name = "limit")]
    [Description("Most rows of the page, 1 to 1000; default 50.")]
    public string? Limit { get; init; }

    /// <summary>Rows to skip, 0 or more; default 0. Past the last match the page is empty.</summary>
    [FromQuery(Name = "offset")]
    [Description("Rows to skip, 0 or more; default 0. Past the last match the page is empty.")]
    public string? Offset { get; init; }

    /// <summary>attention (the default: Blocked, then Warning, then by share of quota used), status, usage, rpm, p95, errors, reset, name or plan.</summary>
    [FromQuery(Name = "sort")]
    [Description("attention (the default: Blocked, then Warning, then by share of quota used), status, usage, rpm, p95, errors, reset, name or plan.")]
    public string? Sort { get; init; }

    /// <summary>asc or desc; default desc for numbers and status, asc for name, plan and reset. Ties go by name, A to Z.</summary>
    [FromQuery(Name = "dir")]
    [Description("asc or desc; default desc for numbers and status, asc for name, plan and reset. Ties go by name, A to Z.")]
    public string? Dir { get; init; }

    /// <summary>Only tenants with this status: Normal, Warning, Blocked, or Suspended (the tenant's own status).</summary>
    [FromQuery(Name = "status")]
    [Description("Only tenants with this status: Normal, Warning, Blocked, or Suspended (the tenant's own status).")]
    public string? Status { get; init; }

    /// <summary>Only tenants whose name contains this, case-insensitive; at most 100 characters.</summary>
    [FromQuery(Name = "q")]
    [Description("Only tenants whose name contains this, case-insensitive; at most 100 characters.")]
    public string? Q { get; init; }

    /// <summary>Only tenants on the plan of this name, case-insensitive.</summary>
    [FromQuery(Name = "plan")]
    [Description("Only tenants on the plan of this name, case-insensitive.")]
    public string? Plan { get; init; }

    /// <summary>The view these parameters ask for; what is wrong goes to <paramref name="errors"/>.</summary>
    public DashboardView Parse(Dictionary<string, string[]> errors) => DashboardView.Parse(Limit, Offset, Sort, Dir, Status, Q, Plan, errors);
}
