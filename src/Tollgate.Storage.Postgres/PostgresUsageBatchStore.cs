using System.Text;
using Npgsql;
using NpgsqlTypes;

namespace Tollgate.Usage;

/// <summary>
/// PostgreSQL's fast path: the raw rows go in with binary <c>COPY</c>; roll-ups, quota counters and keys' last use
/// are each one statement over arrays (<c>unnest</c>), so a batch of any size costs five round trips, all in one
/// transaction. Roll-ups and counters are additive upserts (<c>count = usage_rollups.count + excluded.count</c>):
/// the row lock taken by <c>ON CONFLICT DO UPDATE</c> makes them exact with any number of writers.
/// </summary>
internal sealed partial class PostgresUsageBatchStore(NpgsqlDataSource dataSource, ILogger<PostgresUsageBatchStore> logger)
    : IUsageBatchStore
{
    /// <summary>Attempts when PostgreSQL picks this transaction as a deadlock victim; the whole batch is redone.</summary>
    private const int MaxAttempts = 5;

    private const string CopyLogs =
        "COPY usage_logs (tenant_id, api_key_id, \"timestamp\", method, endpoint, status_code, latency_micros, outcome, upstream_latency_micros) " +
        "FROM STDIN (FORMAT BINARY)";

    private const string UpsertQuota =
        "INSERT INTO quota_counters (tenant_id, period, period_start, used, unshared) " +
        "SELECT * FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::bigint[], $5::bigint[]) " +
        "ON CONFLICT (tenant_id, period, period_start) DO UPDATE " +
        "SET used = quota_counters.used + excluded.used, unshared = quota_counters.unshared + excluded.unshared";

    private const string UpdateKeys =
        "UPDATE api_keys AS k SET last_used_at = v.ts " +
        "FROM unnest($1::bigint[], $2::timestamptz[]) AS v(id, ts) " +
        "WHERE k.id = v.id AND (k.last_used_at IS NULL OR k.last_used_at < v.ts)";

    // Advances the writer's mark, or changes nothing (0 rows) when the batch is already stored (see UsageWriterMark).
    // First in the transaction: it takes the mark's row lock, so a late commit of the same batch is waited for and seen.
    private const string AdvanceMark =
        "INSERT INTO usage_writer_marks (writer_id, last_sequence) VALUES ($1, $2) " +
        "ON CONFLICT (writer_id) DO UPDATE SET last_sequence = excluded.last_sequence " +
        "WHERE usage_writer_marks.last_sequence < $3";

    private static readonly string UpsertRollups = BuildRollupUpsert();

    public async Task WriteAsync(UsageBatch batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await WriteOnceAsync(batch, cancellationToken);
                return;
            }
            catch (PostgresException ex) when (attempt < MaxAttempts && ex.SqlState is
                PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure)
            {
                // Rows are locked in one order (UsageBatchLockOrder), so this is rare: a key's last-use update
                // meeting another instance's, or an admin changing the key. Nothing was committed; redo it all.
                LogRetry(logger, ex.SqlState, attempt);
            }
            catch (Exception ex) when (ex is NpgsqlException or IOException && ex is not PostgresException)
            {
                // The server went away (or restarted): its pooled connections are dead; the next attempt connects anew.
                dataSource.Clear();
                throw;
            }
        }
    }

    private async Task WriteOnceAsync(UsageBatch batch, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        if (batch.Mark is { } mark)
        {
            await using var command = new NpgsqlCommand(AdvanceMark, connection, tx);
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = mark.WriterId });
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = mark.Sequence });
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = mark.From });
            if (await command.ExecuteNonQueryAsync(ct) == 0)
            {
                batch.AlreadyStored = true;
                return; // stored before: the transaction is rolled back when disposed
            }
        }

        if (batch.Count > 0)
        {
            await CopyLogsAsync(connection, batch, ct);
        }

        if (batch.Rollups.Count > 0)
        {
            await using var command = RollupCommand(connection, tx, UsageBatchLockOrder.Rollups(batch));
            await command.ExecuteNonQueryAsync(ct);
        }

        if (batch.QuotaIncrements.Count > 0)
        {
            var rows = UsageBatchLockOrder.QuotaIncrements(batch);
            await using var command = new NpgsqlCommand(UpsertQuota, connection, tx);
            command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = Array.ConvertAll(rows, r => r.Key.TenantId) });
            command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = Array.ConvertAll(rows, r => EnumNames.Of(r.Key.Period)) });
            command.Parameters.Add(new NpgsqlParameter<DateTime[]> { TypedValue = Array.ConvertAll(rows, r => AsUtc(r.Key.PeriodStart)) });
            command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = Array.ConvertAll(rows, r => r.Value.Used) });
            command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = Array.ConvertAll(rows, r => r.Value.Unshared) });
            await command.ExecuteNonQueryAsync(ct);
        }

        if (batch.KeysLastUsed.Count > 0)
        {
            var rows = UsageBatchLockOrder.KeysLastUsed(batch);
            await using var command = new NpgsqlCommand(UpdateKeys, connection, tx);
            command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = Array.ConvertAll(rows, r => r.Key) });
            command.Parameters.Add(new NpgsqlParameter<DateTime[]> { TypedValue = Array.ConvertAll(rows, r => AsUtc(r.Value)) });
            await command.ExecuteNonQueryAsync(ct);
        }

        await tx.CommitAsync(ct);
    }

    private static async Task CopyLogsAsync(NpgsqlConnection connection, UsageBatch batch, CancellationToken ct)
    {
        // COPY joins the connection's open transaction: a failure later in the batch takes these rows back too.
        await using var importer = await connection.BeginBinaryImportAsync(CopyLogs, ct);
        foreach (var e in batch.Events)
        {
            await importer.StartRowAsync(ct);
            await importer.WriteAsync(e.TenantId, NpgsqlDbType.Bigint, ct);
            await importer.WriteAsync(e.ApiKeyId, NpgsqlDbType.Bigint, ct);
            await importer.WriteAsync(AsUtc(e.Timestamp), NpgsqlDbType.TimestampTz, ct);
            await importer.WriteAsync(e.Method, NpgsqlDbType.Varchar, ct);
            await importer.WriteAsync(e.Endpoint, NpgsqlDbType.Varchar, ct);
            await importer.WriteAsync(e.StatusCode, NpgsqlDbType.Integer, ct);
            await importer.WriteAsync(e.LatencyMicros, NpgsqlDbType.Bigint, ct);
            await importer.WriteAsync(EnumNames.Of(e.Outcome), NpgsqlDbType.Varchar, ct);
            await importer.WriteAsync(e.UpstreamLatencyMicros, NpgsqlDbType.Bigint, ct);
        }

        await importer.CompleteAsync(ct);
    }

    private static NpgsqlCommand RollupCommand(
        NpgsqlConnection connection, NpgsqlTransaction tx, KeyValuePair<RollupKey, RollupValues>[] rows)
    {
        var command = new NpgsqlCommand(UpsertRollups, connection, tx);
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = Array.ConvertAll(rows, r => r.Key.TenantId) });
        command.Parameters.Add(new NpgsqlParameter<DateTime[]> { TypedValue = Array.ConvertAll(rows, r => AsUtc(r.Key.BucketStart)) });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = Array.ConvertAll(rows, r => r.Key.Method) });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = Array.ConvertAll(rows, r => r.Key.Endpoint) });
        command.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = Array.ConvertAll(rows, r => r.Key.StatusCode) });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = Array.ConvertAll(rows, r => EnumNames.Of(r.Key.Outcome)) });
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = Array.ConvertAll(rows, r => r.Value.Count) });
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = Array.ConvertAll(rows, r => r.Value.LatencySumMicros) });
        for (var b = 0; b < LatencyHistogram.BucketCount; b++)
        {
            var bucket = b;
            command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = Array.ConvertAll(rows, r => r.Value.Histogram[bucket]) });
        }

        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = Array.ConvertAll(rows, r => r.Value.UpstreamLatencySumMicros) });

        return command;
    }

    /// <summary>
    /// UTC as the EF Core converter makes it (<see cref="Data.TollgateDbContext"/>); Npgsql refuses any other kind for
    /// <c>timestamp with time zone</c>, and the events' times are UTC already.
    /// </summary>
    private static DateTime AsUtc(DateTime value) => value.Kind == DateTimeKind.Utc ? value : value.ToUniversalTime();

    private static string BuildRollupUpsert()
    {
        var columns = new StringBuilder("tenant_id, bucket_start, method, endpoint, status_code, outcome, count, latency_sum_micros");
        var arrays = new StringBuilder("$1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::integer[], $6::text[], $7::bigint[], $8::bigint[]");
        var updates = new StringBuilder(
            "count = usage_rollups.count + excluded.count, " +
            "latency_sum_micros = usage_rollups.latency_sum_micros + excluded.latency_sum_micros");
        for (var b = 0; b < LatencyHistogram.BucketCount; b++)
        {
            var column = LatencyHistogram.ColumnNames[b];
            columns.Append(", ").Append(column);
            arrays.Append(", $").Append(9 + b).Append("::bigint[]");
            updates.Append(", ").Append(column).Append(" = usage_rollups.").Append(column).Append(" + excluded.").Append(column);
        }

        columns.Append(", upstream_latency_sum_micros");
        arrays.Append(", $").Append(9 + LatencyHistogram.BucketCount).Append("::bigint[]");
        updates.Append(", upstream_latency_sum_micros = usage_rollups.upstream_latency_sum_micros + excluded.upstream_latency_sum_micros");

        return $"INSERT INTO usage_rollups ({columns}) SELECT * FROM unnest({arrays}) " +
               $"ON CONFLICT (tenant_id, bucket_start, method, endpoint, status_code, outcome) DO UPDATE SET {updates}";
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Usage batch hit a transient PostgreSQL error {SqlState} (attempt {Attempt}); writing it again")]
    private static partial void LogRetry(ILogger logger, string sqlState, int attempt);
}
