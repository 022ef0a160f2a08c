using System.Data;
using System.Globalization;
using MySql.Data.MySqlClient;
using Tollgate.Data;

namespace Tollgate.Usage;

/// <summary>
/// MySQL's and MariaDB's side of the retention clean-up: <c>DELETE … ORDER BY … LIMIT</c>, which both servers take for
/// a single table, through the time column's index. Space needs nothing from here: InnoDB reuses freed pages for new
/// rows (giving them back to the disk would take <c>OPTIMIZE TABLE</c>, a rebuild of the table).
/// </summary>
internal sealed class MySqlUsageRetentionStore(DatabaseDescription database) : IUsageRetentionStore
{
    public async Task<int> DeleteBeforeAsync(string table, string timeColumn, DateTime cutoff, int limit, CancellationToken cancellationToken)
    {
        var sql = $"DELETE FROM `{table}` WHERE `{timeColumn}` < @cutoff ORDER BY `{timeColumn}` LIMIT {limit.ToString(CultureInfo.InvariantCulture)}";
        await using var connection = new MySqlConnection(database.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        // READ COMMITTED, as the usage writer: no gap locks, so the writer's inserts and upserts never wait on the
        // clean-up's scan.
        await using var tx = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken);
        await using var command = new MySqlCommand(sql, connection, tx);
        command.Parameters.AddWithValue("@cutoff", cutoff.Kind == DateTimeKind.Utc ? cutoff : cutoff.ToUniversalTime());
        var deleted = await command.ExecuteNonQueryAsync(cancellationToken);
        await tx.CommitAsync(cancellationToken);
        return deleted;
    }

    public Task ReclaimSpaceAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
