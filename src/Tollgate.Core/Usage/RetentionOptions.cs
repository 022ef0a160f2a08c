using System.ComponentModel.DataAnnotations;

namespace Tollgate.Usage;

/// <summary>
/// Options bound from <c>Tollgate:Retention</c> (CONTRACT §9): how long each tier of stored usage is kept. Per-day
/// roll-ups are kept forever, so old ranges keep exact totals after their raw rows and finer roll-ups are gone.
/// </summary>
public sealed class RetentionOptions
{
    /// <summary>Configuration section.</summary>
    public const string Section = "Tollgate:Retention";

    /// <summary>Raw <c>usage_logs</c> rows whose <c>timestamp</c> is older than this are deleted. Default 30 days.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "36500.00:00:00")]
    public TimeSpan UsageLogs { get; set; } = TimeSpan.FromDays(30);

    /// <summary>Per-minute roll-ups (<c>usage_rollups</c>) whose <c>bucket_start</c> is older than this are deleted. Default 14 days.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "36500.00:00:00")]
    public TimeSpan MinuteRollups { get; set; } = TimeSpan.FromDays(14);

    /// <summary>Per-hour roll-ups (<c>usage_rollups_hour</c>) whose <c>bucket_start</c> is older than this are deleted. Default 400 days.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "36500.00:00:00")]
    public TimeSpan HourRollups { get; set; } = TimeSpan.FromDays(400);

    /// <summary>
    /// How often the clean-up runs; it also runs once a minute after start (or after this, when shorter). Default one
    /// hour. Every instance runs it; on a shared database the runs overlap harmlessly.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "7.00:00:00")]
    public TimeSpan Interval { get; set; } = TimeSpan.FromHours(1);
}
