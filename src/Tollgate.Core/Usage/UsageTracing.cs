using System.Diagnostics;

namespace Tollgate.Usage;

/// <summary>The usage writer's spans: one per stored batch, on the activity source <c>Tollgate.Usage</c>.</summary>
internal static class UsageTracing
{
    /// <summary>The activity source name.</summary>
    public const string ActivitySourceName = "Tollgate.Usage";

    /// <summary>Hands out no activity while no tracer listens.</summary>
    public static readonly ActivitySource Source = new(ActivitySourceName);
}
