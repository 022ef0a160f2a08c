namespace Tollgate.Usage;

/// <summary>
/// The tables the usage writer fills, described once: the EF Core configuration maps them with these names, and each
/// storage package's batch store builds its statements from these lists in this order (the order the batch values are
/// bound in). A column added here reaches the schema and the three writers together.
/// </summary>
public static class UsageTables
{
    /// <summary>
    /// The raw request log, one lean row per request; the view <c>usage_logs</c> reads it with the contract's columns.
    /// On SQLite a row with its (tenant_id, time) index entry took 120.7 bytes with text time, method, endpoint and
    /// outcome (1,000,000 rows over 1,000 tenants), and takes 50.5 with Unix milliseconds, an endpoint id and a numeric
    /// outcome (RawLogSizeTests; docs/databases.md).
    /// </summary>
    public const string Logs = "usage_log_entries";

    /// <summary>The methods and route templates <see cref="Logs"/> refers to by <c>endpoint_id</c>.</summary>
    public const string Endpoints = "usage_endpoints";

    /// <summary>The log's time column: Unix milliseconds (UTC).</summary>
    public const string LogTime = "time_ms";

    /// <summary>Per-minute roll-ups of the log.</summary>
    public const string Rollups = "usage_rollups";

    /// <summary>Per-hour roll-ups: the minute roll-ups' columns with <c>bucket_start</c> on the hour.</summary>
    public const string HourRollups = "usage_rollups_hour";

    /// <summary>Per-day roll-ups (kept forever): the minute roll-ups' columns with <c>bucket_start</c> at midnight UTC.</summary>
    public const string DayRollups = "usage_rollups_day";

    /// <summary>Admitted requests per tenant and quota period.</summary>
    public const string QuotaCounters = "quota_counters";

    /// <summary>The webhooks' outbox: one row per tenant, threshold and quota period crossed.</summary>
    public const string QuotaAlerts = "quota_alerts";

    /// <summary>A quota alert's unique key: a replayed or duplicated crossing inserts nothing.</summary>
    public static IReadOnlyList<string> AlertKey { get; } = ["tenant_id", "threshold", "period", "period_start"];

    /// <summary>The columns an alert row is inserted with, in binding order.</summary>
    public static IReadOnlyList<string> AlertColumns { get; } = [.. AlertKey, "used", "quota_limit", "crossed_at"];

    /// <summary>The columns a log row is inserted with, in binding order.</summary>
    public static IReadOnlyList<string> LogColumns { get; } =
        ["tenant_id", "api_key_id", LogTime, "endpoint_id", "status_code", "latency_micros", "outcome", "upstream_latency_micros"];

    /// <summary>A roll-up's key: one row per tenant, minute, method, endpoint, status and outcome.</summary>
    public static IReadOnlyList<string> RollupKey { get; } = ["tenant_id", "bucket_start", "method", "endpoint", "status_code", "outcome"];

    /// <summary>A roll-up's sums, added to on conflict: count, latency sum, the upstream's share.</summary>
    public static IReadOnlyList<string> RollupSums { get; } = ["count", "latency_sum_micros", "upstream_latency_sum_micros"];

    /// <summary>
    /// A roll-up's latency distribution (<see cref="LatencySketch"/>), which no database can add in an upsert: the store
    /// reads it back under the row lock its upsert took, merges the batch's into it and writes the merge.
    /// </summary>
    public const string RollupSketch = "latency_sketch";

    /// <summary>A quota counter's key.</summary>
    public static IReadOnlyList<string> QuotaKey { get; } = ["tenant_id", "period", "period_start"];

    /// <summary>A quota counter's sums, added to on conflict.</summary>
    public static IReadOnlyList<string> QuotaSums { get; } = ["used", "unshared"];

    /// <summary>The roll-up's key and sums, in binding order.</summary>
    public static IReadOnlyList<string> RollupColumns { get; } = [.. RollupKey, .. RollupSums];

    /// <summary>The quota counter's key and sums, in binding order.</summary>
    public static IReadOnlyList<string> QuotaColumns { get; } = [.. QuotaKey, .. QuotaSums];

    /// <summary>The columns joined by commas, each quoted as the provider needs (e.g. MySQL's <c>`count`</c>).</summary>
    public static string List(IEnumerable<string> columns, Func<string, string>? quote = null) =>
        string.Join(", ", quote is null ? columns : columns.Select(quote));

    /// <summary>
    /// The additive <c>SET</c> list of an upsert: <c>c = current(c) + added(c)</c> for each column, in the provider's
    /// words for the row's current value and the value the statement tried to insert.
    /// </summary>
    public static string AddTo(IEnumerable<string> sums, Func<string, string> current, Func<string, string> added) =>
        string.Join(", ", sums.Select(c => $"{c} = {current(c)} + {added(c)}"));
}
