namespace Tollgate.Usage;

/// <summary>
/// What the retention clean-up (<see cref="UsageRetention"/>) needs that each database says its own way: a
/// <c>DELETE</c> bounded to a number of rows, and giving freed space back. One implementation per database provider,
/// beside its <see cref="IUsageBatchStore"/>.
/// </summary>
public interface IUsageRetentionStore
{
    /// <summary>
    /// Deletes at most <paramref name="limit"/> rows of <paramref name="table"/> whose <paramref name="timeColumn"/> is
    /// before <paramref name="cutoff"/> (strictly), in one short transaction of its own; answers how many it deleted.
    /// The column must lead an index, or every call scans the table.
    /// </summary>
    Task<int> DeleteBeforeAsync(string table, string timeColumn, DateTime cutoff, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// Called after a run that deleted rows: hands freed space back to the file system where the database needs to
    /// be asked (SQLite's incremental vacuum, in small steps); nothing where the database manages it itself.
    /// </summary>
    Task ReclaimSpaceAsync(CancellationToken cancellationToken);
}
