namespace Tollgate.Usage;

/// <summary>
/// Stores a batch of usage events in one transaction with the database's fast path: the raw rows, the per-minute
/// roll-ups, the quota counters and the keys' last use. One implementation per database provider.
/// </summary>
public interface IUsageBatchStore
{
    /// <summary>Stores the batch atomically: all of it or, on an exception, none of it.</summary>
    Task WriteAsync(UsageBatch batch, CancellationToken cancellationToken);
}
