namespace Tollgate.Usage;

/// <summary>Where usage events are going, as far as the writer knows.</summary>
public enum UsageStorageState
{
    /// <summary>Into the database.</summary>
    Healthy,

    /// <summary>Into the spool on local disk (the database does not take them); replayed when it answers again.</summary>
    Spooling,

    /// <summary>
    /// Nowhere, and <see cref="StorageFailurePolicy.Admit"/> keeps serving: raw rows are dropped and counted; their
    /// aggregates wait in memory for the database.
    /// </summary>
    Dropping,

    /// <summary>Nowhere, and <see cref="StorageFailurePolicy.Refuse"/> answers metered requests with 503.</summary>
    Refusing,
}

/// <summary>
/// The state of usage storage, set by the <see cref="UsageWriter"/> and read by the request path (refuse or not),
/// <c>/readyz</c>, <c>/metrics</c> and the dashboard. Reading it is a volatile read: it costs the request path nothing.
/// </summary>
public sealed class UsageStorageStatus
{
    private int _state;
    private long _sinceTicks;
    private long _droppedRows;
    private long _refusedRequests;
    private long _spooledEvents;

    /// <summary>The current state.</summary>
    public UsageStorageState State => (UsageStorageState)Volatile.Read(ref _state);

    /// <summary>True while metered requests are refused (503) because nothing can record them.</summary>
    public bool Refusing => Volatile.Read(ref _state) == (int)UsageStorageState.Refusing;

    /// <summary>When the current state began (UTC); null while healthy.</summary>
    public DateTime? Since => State == UsageStorageState.Healthy ? null : new DateTime(Interlocked.Read(ref _sinceTicks), DateTimeKind.Utc);

    /// <summary>Raw rows dropped since start (<see cref="StorageFailurePolicy.Admit"/>); each one a request served without its row.</summary>
    public long DroppedRows => Interlocked.Read(ref _droppedRows);

    /// <summary>Metered requests answered 503 since start because their usage could not be recorded.</summary>
    public long RefusedRequests => Interlocked.Read(ref _refusedRequests);

    /// <summary>Events in the spool, not yet replayed into the database.</summary>
    public long SpooledEvents => Interlocked.Read(ref _spooledEvents);

    /// <summary>Counts raw rows dropped.</summary>
    public void Dropped(long rows) => Interlocked.Add(ref _droppedRows, rows);

    /// <summary>Counts one refused request.</summary>
    public void Refused() => Interlocked.Increment(ref _refusedRequests);

    /// <summary>Sets the state (the writer's only); returns true when it changed.</summary>
    internal bool Set(UsageStorageState state, long spooledEvents, DateTime now)
    {
        Interlocked.Exchange(ref _spooledEvents, spooledEvents);
        if (State == state)
        {
            return false;
        }

        Interlocked.Exchange(ref _sinceTicks, now.Ticks);
        Volatile.Write(ref _state, (int)state);
        return true;
    }
}
