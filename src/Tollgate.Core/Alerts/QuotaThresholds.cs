using System.Globalization;

namespace Tollgate.Alerts;

/// <summary>
/// A plan's (or a tenant's) alert thresholds: percentages of the quota at which a <c>quota.threshold</c> event is
/// raised, once per tenant, threshold and period (CONTRACT §9).
/// </summary>
public static class QuotaThresholds
{
    /// <summary>The thresholds of a plan that sets none: 80 % and 100 %.</summary>
    public static IReadOnlyList<int> Default { get; } = [80, 100];

    /// <summary>Most thresholds one plan may have.</summary>
    public const int MaxCount = 10;

    /// <summary>
    /// The crossing made by one admitted request, or null (the usual case, without allocating): with <c>used</c> the
    /// quota count after the request and <c>cost</c> what it added, threshold <c>t</c> is crossed when
    /// <c>used − cost &lt; t·limit/100 ≤ used</c>. The limit stores are exact (one counter per tenant, in process or in
    /// Redis), so exactly one admitted request of a period crosses each threshold; a duplicate (an instance counting on
    /// its own while Redis is away) is absorbed by the outbox's unique key.
    /// </summary>
    public static QuotaCrossing? Crossed(IReadOnlyList<int> thresholds, in QuotaUsage quota, int cost)
    {
        ArgumentNullException.ThrowIfNull(thresholds);
        if (quota.Limit <= 0 || thresholds.Count == 0)
        {
            return null;
        }

        // Integers only: 100·used ≥ t·limit is "used ≥ t % of limit" exactly. Limits are at most 10^12 and t at most
        // 100, so nothing overflows.
        var after = quota.Used * 100;
        var before = (quota.Used - cost) * 100;
        List<int>? crossed = null;
        // An index loop: foreach over the interface would allocate an enumerator on every admitted request.
        for (var i = 0; i < thresholds.Count; i++)
        {
            var t = thresholds[i];
            var mark = t * quota.Limit;
            if (before < mark && mark <= after)
            {
                (crossed ??= []).Add(t);
            }
        }

        return crossed is null ? null : new QuotaCrossing(quota.Used, quota.Limit, [.. crossed]);
    }

    /// <summary>What is wrong with a list of thresholds, or null when it is valid: 1 to 10 distinct percentages, 1 to 100.</summary>
    public static string? Problem(IReadOnlyList<int>? thresholds)
    {
        if (thresholds is null || thresholds.Count == 0 || thresholds.Count > MaxCount)
        {
            return $"Give 1 to {MaxCount} thresholds, each a percentage of the quota from 1 to 100.";
        }

        if (thresholds.Any(t => t is < 1 or > 100))
        {
            return "Each threshold is a percentage of the quota from 1 to 100.";
        }

        return thresholds.Distinct().Count() != thresholds.Count ? "Each threshold may appear once." : null;
    }

    /// <summary>Sorted, for storage and display.</summary>
    public static int[] Normalize(IEnumerable<int> thresholds) => [.. thresholds.Distinct().Order()];

    /// <summary>The stored form: <c>80,100</c>.</summary>
    public static string Format(IEnumerable<int> thresholds) =>
        string.Join(",", thresholds.Select(t => t.ToString(CultureInfo.InvariantCulture)));

    /// <summary>Reads <see cref="Format"/>'s form; anything unreadable is left out.</summary>
    public static int[] Parse(string? stored) =>
        string.IsNullOrWhiteSpace(stored)
            ? []
            : [.. stored.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(s => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var t) ? t : 0)
                .Where(t => t is >= 1 and <= 100)];
}
