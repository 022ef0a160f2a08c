using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Tollgate.Limits;

/// <summary>
/// The shared limit store's instruments, on the meter <c>Tollgate.Limits</c>, and its spans on the activity source
/// of the same name: how long Redis takes to decide.
/// </summary>
internal sealed class LimitMetrics
{
    /// <summary>The meter name.</summary>
    public const string MeterName = "Tollgate.Limits";

    /// <summary>The activity source name.</summary>
    public const string ActivitySourceName = "Tollgate.Limits";

    /// <summary>Spans of Redis decisions; hands out none while no tracer listens.</summary>
    public static readonly ActivitySource Source = new(ActivitySourceName);

    private readonly Histogram<double> _scriptDuration;

    public LimitMetrics(IMeterFactory meters)
    {
        _scriptDuration = meters.Create(MeterName).CreateHistogram<double>(
            "tollgate.limits.redis.duration", "s", "Round trip of one Redis limit script: a batch of one tenant's checks",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] });
    }

    /// <summary>Records one script's round trip, started at <paramref name="startedAt"/> (a Stopwatch timestamp).</summary>
    public void ScriptDone(long startedAt, bool answered)
    {
        if (_scriptDuration.Enabled)
        {
            _scriptDuration.Record(
                Stopwatch.GetElapsedTime(startedAt).TotalSeconds,
                new KeyValuePair<string, object?>("tollgate.result", answered ? "answered" : "failed"));
        }
    }
}
