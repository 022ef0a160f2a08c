using Tollgate.Limits;

namespace Tollgate.Usage;

/// <summary>
/// One metered request on its way to <c>usage_logs</c>. A value type so that queueing it allocates nothing;
/// its strings are the interned method names and the endpoints' route templates.
/// </summary>
/// <param name="TenantId">The calling tenant.</param>
/// <param name="ApiKeyId">The key used.</param>
/// <param name="Timestamp">When the request arrived (UTC).</param>
/// <param name="Method">HTTP method.</param>
/// <param name="Endpoint">Route template.</param>
/// <param name="StatusCode">Status of the answer.</param>
/// <param name="LatencyMicros">Time in Tollgate's pipeline, in microseconds.</param>
/// <param name="Outcome">What the limits decided.</param>
/// <param name="QuotaPeriod">The quota period kind the request was counted in.</param>
/// <param name="QuotaPeriodStart">Start of that period (UTC).</param>
public readonly record struct UsageEvent(
    long TenantId,
    long ApiKeyId,
    DateTime Timestamp,
    string Method,
    string Endpoint,
    int StatusCode,
    long LatencyMicros,
    LimitOutcome Outcome,
    QuotaPeriod QuotaPeriod,
    DateTime QuotaPeriodStart)
{
    /// <summary>An answer the tenant would call an error: 4xx or 5xx from the endpoint, not a limit refusal.</summary>
    public bool IsError => Outcome == LimitOutcome.Admitted && StatusCode >= 400;

    /// <summary>Refused by a limit.</summary>
    public bool IsRejected => Outcome != LimitOutcome.Admitted;

    /// <summary>
    /// Admitted on this instance's own count while the shared limit store (Redis) was unreachable, so not yet in the
    /// shared counter; stored as <c>quota_counters.unshared</c> until the instance adds it there.
    /// </summary>
    public bool Unshared { get; init; }

    /// <summary>Units an admitted request counts against the quota: 1, or a gateway route's <c>cost</c>.</summary>
    public int Cost { get; init; } = 1;

    /// <summary>Of <see cref="LatencyMicros"/>, the time spent waiting for a gateway route's upstream; 0 for hosted endpoints.</summary>
    public long UpstreamLatencyMicros { get; init; }

    /// <summary>Completed by the writer once the event is stored; only set in synchronous durability.</summary>
    public UsageReceipt? Receipt { get; init; }
}

/// <summary>Lets a request wait until its usage event is committed (synchronous durability).</summary>
public sealed class UsageReceipt
{
    private readonly TaskCompletionSource _stored = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when the event is in the database.</summary>
    public Task Stored => _stored.Task;

    /// <summary>Called by the writer after the commit.</summary>
    public void Complete() => _stored.TrySetResult();
}

/// <summary>Where the request path hands usage events; the writer behind it stores them off the request path.</summary>
public interface IUsageSink
{
    /// <summary>
    /// Queues one event. Completes at once while the queue has room; when it is full, waits for room
    /// (back-pressure) rather than drop the event.
    /// </summary>
    ValueTask RecordAsync(UsageEvent usageEvent);
}
