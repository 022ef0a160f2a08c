using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace Tollgate;

/// <summary>
/// UTC times as whole milliseconds since the Unix epoch: the raw log's <c>time_ms</c> column. An integer of 6 bytes on
/// SQLite where the text form took 26 (in the row and again in the index); a millisecond is finer than any use of a
/// request log needs.
/// </summary>
public static class UnixMilliseconds
{
    /// <summary>Maps a <see cref="DateTime"/> property to the column; monotonic, so range filters translate as they are.</summary>
    public static ValueConverter<DateTime, long> Converter { get; } = new(v => From(v), v => ToDateTime(v));

    /// <summary>The time as milliseconds since 1970-01-01 UTC, rounded down; a local time is turned to UTC first.</summary>
    public static long From(DateTime value) =>
        ((value.Kind == DateTimeKind.Local ? value.ToUniversalTime() : value).Ticks - DateTime.UnixEpoch.Ticks) / TimeSpan.TicksPerMillisecond;

    /// <summary>The UTC time of milliseconds since 1970-01-01 UTC.</summary>
    public static DateTime ToDateTime(long milliseconds) =>
        new(DateTime.UnixEpoch.Ticks + milliseconds * TimeSpan.TicksPerMillisecond, DateTimeKind.Utc);
}
