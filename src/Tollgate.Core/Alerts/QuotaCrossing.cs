namespace Tollgate.Alerts;

/// <summary>
/// The thresholds one admitted request crossed, carried on its usage event to the usage writer, which stores one
/// <c>quota_alerts</c> row per threshold in the same transaction as the request's usage.
/// </summary>
/// <param name="Used">The quota count after the request.</param>
/// <param name="Limit">The quota at the time.</param>
/// <param name="Thresholds">The percentages crossed (several when one request of cost &gt; 1 jumps over more than one).</param>
public sealed record QuotaCrossing(long Used, long Limit, IReadOnlyList<int> Thresholds);
