using System.Globalization;
using Tollgate.Keys;

namespace Tollgate.Admin;

/// <summary>The tenant and time window a usage request asked for, checked.</summary>
/// <param name="TenantId">The tenant asked for, or null.</param>
/// <param name="From">Start of the window (UTC).</param>
/// <param name="To">End of the window, exclusive (UTC).</param>
/// <param name="HasFrom">Whether <c>from</c> was given (the log leaves a missing bound open).</param>
/// <param name="HasTo">Whether <c>to</c> was given.</param>
internal sealed record UsageFilter(long? TenantId, DateTime From, DateTime To, bool HasFrom, bool HasTo)
{
    /// <summary>Earliest time a request may name.</summary>
    public static readonly DateTime Earliest = new(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    /// <summary>Latest time a request may name.</summary>
    public static readonly DateTime Latest = new(9000, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    /// <summary>
    /// Reads tenantId, from and to. With <paramref name="now"/>, a missing <c>to</c> is now and a missing
    /// <c>from</c> is <paramref name="defaultSpan"/> before <c>to</c>; without, missing bounds stay open.
    /// </summary>
    public static UsageFilter Parse(
        string? tenantId, string? from, string? to, DateTime? now, TimeSpan? defaultSpan, Dictionary<string, string[]> errors)
    {
        long? tenant = null;
        if (tenantId is not null)
        {
            if (long.TryParse(tenantId, NumberStyles.None, CultureInfo.InvariantCulture, out var t) && t > 0)
            {
                tenant = t;
            }
            else
            {
                errors["tenantId"] = ["The tenantId must be a tenant's id."];
            }
        }

        var end = ParseTime(to, "to", errors) ?? now ?? Latest;
        var start = ParseTime(from, "from", errors)
            ?? (defaultSpan is { } span && end - Earliest > span ? end - span : Earliest);
        if (start >= end && !errors.ContainsKey("from") && !errors.ContainsKey("to"))
        {
            errors["from"] = ["'from' must be before 'to'."];
        }

        return new UsageFilter(tenant, start, end, from is not null, to is not null);
    }

    /// <summary>
    /// The tenant the admin may read: the one asked for, or for a one-tenant admin its own, or null (every tenant)
    /// for an admin who sees them all. False (a 404) when the tenant is hidden or unknown.
    /// </summary>
    public bool TryResolve(AdminScope scope, TenantDirectory directory, out long? tenantId)
    {
        tenantId = TenantId ?? (scope.SeesAllTenants ? null : scope.TenantId);
        if (!scope.SeesAllTenants && tenantId is null)
        {
            return false;
        }

        return tenantId is not { } id || (scope.CanSee(id) && directory.TryGet(id, out _));
    }

    private static DateTime? ParseTime(string? value, string field, Dictionary<string, string[]> errors)
    {
        if (value is null)
        {
            return null;
        }

        if (DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed)
            && parsed.UtcDateTime >= Earliest && parsed.UtcDateTime <= Latest)
        {
            return parsed.UtcDateTime;
        }

        errors[field] = [$"'{field}' must be an ISO 8601 time between {Earliest:yyyy} and {Latest:yyyy}, e.g. 2026-11-01T00:00:00Z."];
        return null;
    }
}

/// <summary>A bucket size of a usage series.</summary>
/// <param name="Name">minute, hour or day, as the API names it.</param>
/// <param name="Length">The bucket's length.</param>
internal sealed record UsageBucket(string Name, TimeSpan Length)
{
    /// <summary>One minute.</summary>
    public static readonly UsageBucket Minute = new("minute", TimeSpan.FromMinutes(1));

    /// <summary>One hour.</summary>
    public static readonly UsageBucket Hour = new("hour", TimeSpan.FromHours(1));

    /// <summary>One day.</summary>
    public static readonly UsageBucket Day = new("day", TimeSpan.FromDays(1));

    /// <summary>The bucket named <paramref name="value"/>, or null (with an error).</summary>
    public static UsageBucket? Parse(string value, Dictionary<string, string[]> errors)
    {
        foreach (var bucket in (ReadOnlySpan<UsageBucket>)[Minute, Hour, Day])
        {
            if (bucket.Name.Equals(value, StringComparison.OrdinalIgnoreCase))
            {
                return bucket;
            }
        }

        errors["bucket"] = ["The bucket must be minute, hour or day."];
        return null;
    }

    /// <summary>Without a bucket asked for: the finest that keeps a range to a few hundred points.</summary>
    public static UsageBucket For(TimeSpan range) =>
        range <= TimeSpan.FromHours(6) ? Minute : range <= TimeSpan.FromDays(14) ? Hour : Day;

    /// <summary>The start of the bucket a time falls into (UTC-aligned).</summary>
    public DateTime Floor(DateTime at) => new(at.Ticks - at.Ticks % Length.Ticks, DateTimeKind.Utc);
}

/// <summary>Where a page of the request log ends: the last row's timestamp and id, as <c>ticks-id</c>.</summary>
/// <param name="Timestamp">The last row's timestamp (UTC).</param>
/// <param name="Id">The last row's id.</param>
internal readonly record struct LogCursor(DateTime Timestamp, long Id)
{
    /// <summary>The cursor as the API shows it.</summary>
    public override string ToString() =>
        Timestamp.Ticks.ToString(CultureInfo.InvariantCulture) + "-" + Id.ToString(CultureInfo.InvariantCulture);

    /// <summary>Reads a <c>nextCursor</c> value; null when absent or (with an error) malformed.</summary>
    public static LogCursor? Parse(string? value, Dictionary<string, string[]> errors)
    {
        if (value is null)
        {
            return null;
        }

        var dash = value.IndexOf('-', StringComparison.Ordinal);
        if (dash > 0
            && long.TryParse(value.AsSpan(0, dash), NumberStyles.None, CultureInfo.InvariantCulture, out var ticks)
            && ticks <= DateTime.MaxValue.Ticks
            && long.TryParse(value.AsSpan(dash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var id)
            && id > 0)
        {
            return new LogCursor(new DateTime(ticks, DateTimeKind.Utc), id);
        }

        errors["cursor"] = ["The cursor must be a nextCursor value from an earlier page."];
        return null;
    }
}

/// <summary>Checks of query-string values that minimal APIs would bind with an unhelpful empty 400.</summary>
internal static class QueryValues
{
    /// <summary>A whole number from <paramref name="min"/> to <paramref name="max"/>; <paramref name="fallback"/> when absent.</summary>
    public static int Int(string? value, string field, int min, int max, int fallback, Dictionary<string, string[]> errors)
    {
        if (value is null)
        {
            return fallback;
        }

        if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) && parsed >= min && parsed <= max)
        {
            return parsed;
        }

        errors[field] = [$"The {field} must be a whole number from {min} to {max}."];
        return fallback;
    }
}
