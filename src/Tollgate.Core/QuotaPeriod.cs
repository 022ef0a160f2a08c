namespace Tollgate;

/// <summary>The calendar periods a quota counts over, aligned to UTC.</summary>
public enum QuotaPeriod
{
    /// <summary>A UTC minute.</summary>
    Minute,

    /// <summary>A UTC hour.</summary>
    Hour,

    /// <summary>A UTC day.</summary>
    Day,

    /// <summary>A UTC calendar month.</summary>
    Month,
}

/// <summary>Calendar arithmetic for <see cref="QuotaPeriod"/>.</summary>
public static class QuotaPeriods
{
    /// <summary>Start of the period that contains <paramref name="utc"/>.</summary>
    public static DateTime StartOf(QuotaPeriod period, DateTime utc) => period switch
    {
        QuotaPeriod.Minute => new DateTime(utc.Ticks - utc.Ticks % TimeSpan.TicksPerMinute, DateTimeKind.Utc),
        QuotaPeriod.Hour => new DateTime(utc.Ticks - utc.Ticks % TimeSpan.TicksPerHour, DateTimeKind.Utc),
        QuotaPeriod.Day => new DateTime(utc.Ticks - utc.Ticks % TimeSpan.TicksPerDay, DateTimeKind.Utc),
        QuotaPeriod.Month => new DateTime(utc.Year, utc.Month, 1, 0, 0, 0, DateTimeKind.Utc),
        _ => throw new ArgumentOutOfRangeException(nameof(period)),
    };

    /// <summary>Start of the period after the one that starts at <paramref name="start"/>.</summary>
    public static DateTime NextStart(QuotaPeriod period, DateTime start) => period switch
    {
        QuotaPeriod.Minute => start.AddMinutes(1),
        QuotaPeriod.Hour => start.AddHours(1),
        QuotaPeriod.Day => start.AddDays(1),
        QuotaPeriod.Month => start.AddMonths(1),
        _ => throw new ArgumentOutOfRangeException(nameof(period)),
    };

    /// <summary>The word used in messages ("this month").</summary>
    public static string Noun(QuotaPeriod period) => period switch
    {
        QuotaPeriod.Minute => "minute",
        QuotaPeriod.Hour => "hour",
        QuotaPeriod.Day => "day",
        _ => "month",
    };
}
