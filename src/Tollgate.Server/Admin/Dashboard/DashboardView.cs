using System.Globalization;

namespace Tollgate.Admin;

/// <summary>The orders the live table can be read in.</summary>
public enum DashboardSort
{
    /// <summary>Blocked, then Warning, then Normal; within each, by share of the quota used (the default, descending).</summary>
    Status,

    /// <summary>Share of the quota used.</summary>
    Usage,

    /// <summary>Requests in the last minute.</summary>
    Rpm,

    /// <summary>95th percentile latency of the last minute (tenants without traffic count as lowest).</summary>
    P95,

    /// <summary>Error rate of the last minute.</summary>
    Errors,

    /// <summary>When the quota period resets.</summary>
    Reset,

    /// <summary>Tenant name, case-insensitive.</summary>
    Name,

    /// <summary>Plan name, then tenant name.</summary>
    Plan,
}

/// <summary>
/// One view of the live table, as <c>/api/dashboard-data</c> and <c>/api/admin/stream</c> are asked for it: a filter,
/// an order and a page. Two viewers who ask for the same view share its computation (see <see cref="LiveFrame"/>).
/// </summary>
/// <param name="Sort">The order.</param>
/// <param name="Descending">Whether the order is reversed (ties still go by name, A to Z).</param>
/// <param name="Status">Only tenants with this status: Normal, Warning, Blocked, or Suspended (the tenant's own status).</param>
/// <param name="Query">Only tenants whose name contains this, case-insensitive.</param>
/// <param name="Plan">Only tenants on the plan of this name, case-insensitive.</param>
/// <param name="Offset">Rows to skip.</param>
/// <param name="Limit">Most rows in the page.</param>
public sealed record DashboardView(
    DashboardSort Sort, bool Descending, string? Status, string? Query, string? Plan, int Offset, int Limit)
{
    /// <summary>Rows of a page when <c>limit</c> is not given.</summary>
    public const int DefaultLimit = 50;

    /// <summary>Most rows of a page: a viewer needs no more to fill a screen, and a page costs its size every tick.</summary>
    public const int MaxLimit = 1_000;

    /// <summary>Longest name search.</summary>
    public const int MaxQueryLength = 100;

    /// <summary>The statuses <c>status</c> accepts.</summary>
    public static readonly IReadOnlyList<string> Statuses = ["Normal", "Warning", "Blocked", "Suspended"];

    /// <summary>The default view: the tenants that need attention first.</summary>
    public static DashboardView Default { get; } = new(DashboardSort.Status, true, null, null, null, 0, DefaultLimit);

    /// <summary>Whether any parameter of a view was given: without one, the routes answer the whole table as before.</summary>
    public static bool IsAsked(IQueryCollection query)
    {
        ArgumentNullException.ThrowIfNull(query);
        foreach (var name in (string[])["limit", "offset", "sort", "dir", "status", "q", "plan"])
        {
            if (query.ContainsKey(name))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Reads a view from the query string; what is wrong goes to <paramref name="errors"/>.</summary>
    public static DashboardView Parse(
        string? limit, string? offset, string? sort, string? dir, string? status, string? q, string? plan,
        Dictionary<string, string[]> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        var size = DefaultLimit;
        if (limit is not null && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out size) || size < 1 || size > MaxLimit))
        {
            errors["limit"] = [$"'limit' must be a whole number from 1 to {MaxLimit}."];
        }

        var skip = 0;
        if (offset is not null && !int.TryParse(offset, NumberStyles.None, CultureInfo.InvariantCulture, out skip))
        {
            errors["offset"] = ["'offset' must be a whole number, 0 or more."];
        }

        var order = DashboardSort.Status;
        // "attention" names the default order, so a link can spell it out.
        if (sort is not null && !sort.Equals("attention", StringComparison.OrdinalIgnoreCase))
        {
            // By name only: Enum.TryParse would also take numbers and comma-joined names.
            var name = Enum.GetNames<DashboardSort>().FirstOrDefault(n => n.Equals(sort, StringComparison.OrdinalIgnoreCase));
            if (name is not null)
            {
                order = Enum.Parse<DashboardSort>(name);
            }
        }

        if (sort is not null && !sort.Equals("attention", StringComparison.OrdinalIgnoreCase)
            && !Enum.GetNames<DashboardSort>().Any(n => n.Equals(sort, StringComparison.OrdinalIgnoreCase)))
        {
            errors["sort"] = ["'sort' must be one of attention, status, usage, rpm, p95, errors, reset, name, plan."];
        }

        // Numbers read best biggest first, names and times soonest first.
        var descending = order is not (DashboardSort.Name or DashboardSort.Plan or DashboardSort.Reset);
        if (dir is not null)
        {
            if (dir.Equals("asc", StringComparison.OrdinalIgnoreCase))
            {
                descending = false;
            }
            else if (dir.Equals("desc", StringComparison.OrdinalIgnoreCase))
            {
                descending = true;
            }
            else
            {
                errors["dir"] = ["'dir' must be asc or desc."];
            }
        }

        string? state = null;
        if (status is { Length: > 0 })
        {
            state = Statuses.FirstOrDefault(s => s.Equals(status, StringComparison.OrdinalIgnoreCase));
            if (state is null)
            {
                errors["status"] = ["'status' must be one of Normal, Warning, Blocked, Suspended."];
            }
        }

        var search = string.IsNullOrWhiteSpace(q) ? null : q.Trim();
        if (search is { Length: > MaxQueryLength })
        {
            errors["q"] = [$"'q' must be at most {MaxQueryLength} characters."];
        }

        var planName = string.IsNullOrWhiteSpace(plan) ? null : plan.Trim();
        if (planName is { Length: > MaxQueryLength })
        {
            errors["plan"] = [$"'plan' must be at most {MaxQueryLength} characters."];
        }

        return new DashboardView(order, descending, state, search, planName, skip, size);
    }
}
