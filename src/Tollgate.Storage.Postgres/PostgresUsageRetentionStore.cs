using System.Globalization;
using Npgsql;

namespace Tollgate.Usage;

/// <summary>
/// PostgreSQL's side of the retention clean-up: a batch deleted by the physical row ids (<c>ctid</c>) picked through
/// the time column's index, since PostgreSQL's <c>DELETE</c> takes no <c>LIMIT</c>. Space needs nothing from here:
/// autovacuum makes the dead rows' space reusable for new rows.
/// </summary>
internal sealed class PostgresUsageRetentionStore(NpgsqlDataSource dataSource) : IUsageRetentionStore
{
    public async Task<int> DeleteBeforeAsync(string table, string timeColumn, DateTime cutoff, int limit, CancellationToken cancellationToken)
    {
        // ORDER BY the indexed column keeps the plan an index scan: without it a LIMIT over many matching rows may be
        // planned as a sequential scan, which walks every batch's dead rows again until autovacuum passes.
        var sql = $"DELETE FROM \"{table}\" WHERE ctid = ANY(ARRAY(SELECT ctid FROM \"{table}\" WHERE \"{timeColumn}\" < $1 " +
            $"ORDER BY \"{timeColumn}\" LIMIT {limit.ToString(CultureInfo.InvariantCulture)}))";
        await using var command = dataSource.CreateCommand(sql);
        command.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = cutoff.Kind == DateTimeKind.Utc ? cutoff : cutoff.ToUniversalTime() });
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public Task ReclaimSpaceAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
