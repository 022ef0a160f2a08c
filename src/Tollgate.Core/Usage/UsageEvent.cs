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

    /// <summary>
    /// The alert thresholds this admitted request crossed, or null (nearly always): the writer stores a
    /// <c>quota_alerts</c> row for each in the same transaction as the request's usage.
    /// </summary>
    public Alerts.QuotaCrossing? Crossing { get; init; }

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
    /// Reserves room for one event without waiting; false when the queue is full. A metered request reserves before
    /// the limits count it, so every admitted request has room for its event.
    /// </summary>
    bool TryReserve();

    /// <summary>Waits for room at most <see cref="UsageOptions.MaxRecordWait"/>; false when none came.</summary>
    ValueTask<bool> ReserveAsync(CancellationToken cancellationToken);

    /// <summary>Gives back a reservation that will not be used (the request ended before it had an event).</summary>
    void Unreserve();

    /// <summary>Queues an event into its reserved room; false when the writer has stopped (the room is given back).</summary>
    bool Enqueue(in UsageEvent usageEvent);

    /// <summary>
    /// Records an event that found no room (<see cref="StorageFailurePolicy.Admit"/>): its raw row is dropped, its
    /// roll-up, quota count and key use are still stored. The caller counts the drop.
    /// </summary>
    void Drop(in UsageEvent usageEvent);

    /// <summary>
    /// Reserves and queues one event, waiting as long as it takes for room; for producers outside the request path
    /// (the ingestion benchmark), which want back-pressure rather than a bound.
    /// </summary>
    ValueTask RecordAsync(UsageEvent usageEvent);
}
