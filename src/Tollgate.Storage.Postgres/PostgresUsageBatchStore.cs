using System.Text;
using Npgsql;
using NpgsqlTypes;

namespace Tollgate.Usage;

/// <summary>
/// PostgreSQL's fast path: the raw rows go in with binary <c>COPY</c>; roll-ups, quota counters and keys' last use
/// are each one statement over arrays (<c>unnest</c>), so a batch of any size costs a fixed number of round trips, all in one
/// transaction. Roll-ups and counters are additive upserts (<c>count = usage_rollups.count + excluded.count</c>):
/// the row lock taken by <c>ON CONFLICT DO UPDATE</c> makes them exact with any number of writers.
/// </summary>
internal sealed partial class PostgresUsageBatchStore(
    NpgsqlDataSource dataSource,
    UsageEndpointIds endpoints,
    Microsoft.Extensions.Options.IOptions<UsageOptions> options,
    ILogger<PostgresUsageBatchStore> logger)
    : IUsageBatchStore
{
    /// <summary>Attempts when PostgreSQL picks this transaction as a deadlock victim; the whole batch is redone.</summary>
    private const int MaxAttempts = 5;

    private static readonly string CopyLogs =
        $"COPY {UsageTables.Logs} ({UsageTables.List(UsageTables.LogColumns, c => $"\"{c}\"")}) FROM STDIN (FORMAT BINARY)";

    private static readonly string UpsertQuota = Upsert(
        UsageTables.QuotaCounters, UsageTables.QuotaKey, UsageTables.QuotaSums, ["bigint", "text", "timestamptz", "bigint", "bigint"]);

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

    private static readonly string[] RollupKeyTypes = ["bigint", "timestamptz", "text", "text", "integer", "text"];

    // Per tier: the sums' upsert, returning each row's stored sketch (RETURNING gives the row as updated; the upsert
    // does not touch the sketch, so that is the stored one, under the row lock the upsert took until the commit).
    private static readonly string[] UpsertRollups = [.. RollupTiers.All.Select(t =>
        Upsert(RollupTiers.Table(t), UsageTables.RollupKey, UsageTables.RollupSums, [.. RollupKeyTypes, .. UsageTables.RollupSums.Select(_ => "bigint")]) +
        $" RETURNING {UsageTables.List(UsageTables.RollupKey)}, {UsageTables.RollupSketch}")];

    // Per tier: the merged sketches written back.
    private static readonly string[] UpdateSketches = [.. RollupTiers.All.Select(t =>
        $"UPDATE {RollupTiers.Table(t)} AS r SET {UsageTables.RollupSketch} = v.sketch " +
        $"FROM unnest({string.Join(", ", RollupKeyTypes.Select((type, i) => $"${i + 1}::{type}[]"))}, ${RollupKeyTypes.Length + 1}::bytea[]) " +
        $"AS v({UsageTables.List(UsageTables.RollupKey)}, sketch) WHERE " +
        string.Join(" AND ", UsageTables.RollupKey.Select(c => $"r.{c} = v.{c}")))];

    // The webhooks' outbox: a crossing stored before (a replayed batch, a second instance's duplicate) inserts nothing.
    private static readonly string InsertAlerts =
        $"INSERT INTO {UsageTables.QuotaAlerts} ({UsageTables.List(UsageTables.AlertColumns)}) " +
        "SELECT * FROM unnest($1::bigint[], $2::integer[], $3::text[], $4::timestamptz[], $5::bigint[], $6::bigint[], $7::timestamptz[]) " +
        $"ON CONFLICT ({UsageTables.List(UsageTables.AlertKey)}) DO NOTHING";

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
        await endpoints.EnsureAsync(connection, batch.Events, ct);
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
            await CopyLogsAsync(connection, batch, endpoints, options.Value, ct);
        }

        if (batch.Rollups.Count > 0)
        {
            foreach (var tier in RollupTiers.All)
            {
                await WriteRollupsAsync(connection, tx, tier, UsageBatchLockOrder.Rollups(batch, tier), ct);
            }
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

        if (batch.Alerts.Count > 0)
        {
            var rows = batch.Alerts;
            await using var command = new NpgsqlCommand(InsertAlerts, connection, tx);
            command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = [.. rows.Select(r => r.TenantId)] });
            command.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = [.. rows.Select(r => r.Threshold)] });
            command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. rows.Select(r => EnumNames.Of(r.Period))] });
            command.Parameters.Add(new NpgsqlParameter<DateTime[]> { TypedValue = [.. rows.Select(r => AsUtc(r.PeriodStart))] });
            command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = [.. rows.Select(r => r.Used)] });
            command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = [.. rows.Select(r => r.Limit)] });
            command.Parameters.Add(new NpgsqlParameter<DateTime[]> { TypedValue = [.. rows.Select(r => AsUtc(r.CrossedAt))] });
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

    private static async Task CopyLogsAsync(
        NpgsqlConnection connection, UsageBatch batch, UsageEndpointIds endpoints, UsageOptions rows, CancellationToken ct)
    {
        // COPY joins the connection's open transaction: a failure later in the batch takes these rows back too.
        await using var importer = await connection.BeginBinaryImportAsync(CopyLogs, ct);
        var everyRow = rows.RawLogs == RawLogPolicy.All;
        foreach (var e in batch.Events)
        {
            if (!everyRow && !rows.KeepsRawRow(e))
            {
                continue;
            }

            await importer.StartRowAsync(ct);
            await importer.WriteAsync(e.TenantId, NpgsqlDbType.Bigint, ct);
            await importer.WriteAsync(e.ApiKeyId, NpgsqlDbType.Bigint, ct);
            await importer.WriteAsync(UnixMilliseconds.From(e.Timestamp), NpgsqlDbType.Bigint, ct);
            await importer.WriteAsync(endpoints.IdOf(e.Method, e.Endpoint), NpgsqlDbType.Integer, ct);
            await importer.WriteAsync(e.StatusCode, NpgsqlDbType.Integer, ct);
            await importer.WriteAsync(e.LatencyMicros, NpgsqlDbType.Bigint, ct);
            await importer.WriteAsync((short)e.Outcome, NpgsqlDbType.Smallint, ct);
            await importer.WriteAsync(e.UpstreamLatencyMicros, NpgsqlDbType.Bigint, ct);
        }

        await importer.CompleteAsync(ct);
    }

    private static async Task WriteRollupsAsync(
        NpgsqlConnection connection, NpgsqlTransaction tx, RollupTier tier, KeyValuePair<RollupKey, RollupValues>[] rows, CancellationToken ct)
    {
        var merge = new RollupSketchMerge(rows);
        await using (var upsert = new NpgsqlCommand(UpsertRollups[(int)tier], connection, tx))
        {
            AddKeys(upsert, rows);
            upsert.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = Array.ConvertAll(rows, r => r.Value.Count) });
            upsert.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = Array.ConvertAll(rows, r => r.Value.LatencySumMicros) });
            upsert.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = Array.ConvertAll(rows, r => r.Value.UpstreamLatencySumMicros) });
            await using var reader = await upsert.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                var key = new RollupKey(
                    reader.GetInt64(0), reader.GetFieldValue<DateTime>(1), reader.GetString(2), reader.GetString(3), reader.GetInt32(4),
                    Enum.Parse<LimitOutcome>(reader.GetString(5)));
                merge.AddStored(key, reader.IsDBNull(6) ? [] : reader.GetFieldValue<byte[]>(6));
            }
        }

        await using var update = new NpgsqlCommand(UpdateSketches[(int)tier], connection, tx);
        AddKeys(update, rows);
        update.Parameters.Add(new NpgsqlParameter<byte[][]> { TypedValue = Array.ConvertAll(rows, r => merge.Encoded(r.Key)) });
        await update.ExecuteNonQueryAsync(ct);
    }

    private static void AddKeys(NpgsqlCommand command, KeyValuePair<RollupKey, RollupValues>[] rows)
    {
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = Array.ConvertAll(rows, r => r.Key.TenantId) });
        command.Parameters.Add(new NpgsqlParameter<DateTime[]> { TypedValue = Array.ConvertAll(rows, r => AsUtc(r.Key.BucketStart)) });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = Array.ConvertAll(rows, r => r.Key.Method) });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = Array.ConvertAll(rows, r => r.Key.Endpoint) });
        command.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = Array.ConvertAll(rows, r => r.Key.StatusCode) });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = Array.ConvertAll(rows, r => EnumNames.Of(r.Key.Outcome)) });
    }

    /// <summary>
    /// UTC as the EF Core converter makes it (<see cref="Data.TollgateDbContext"/>); Npgsql refuses any other kind for
    /// <c>timestamp with time zone</c>, and the events' times are UTC already.
    /// </summary>
    private static DateTime AsUtc(DateTime value) => value.Kind == DateTimeKind.Utc ? value : value.ToUniversalTime();

    /// <summary>
    /// An additive upsert of many rows at once from one array parameter per column (<c>unnest($1::bigint[], …)</c>):
    /// its key, then its sums, typed as <paramref name="types"/>.
    /// </summary>
    private static string Upsert(string table, IReadOnlyList<string> key, IReadOnlyList<string> sums, IReadOnlyList<string> types) =>
        $"INSERT INTO {table} ({UsageTables.List([.. key, .. sums])}) " +
        $"SELECT * FROM unnest({string.Join(", ", types.Select((type, i) => $"${i + 1}::{type}[]"))}) " +
        $"ON CONFLICT ({UsageTables.List(key)}) DO UPDATE SET {UsageTables.AddTo(sums, c => $"{table}.{c}", c => "excluded." + c)}";

    [LoggerMessage(Level = LogLevel.Warning, Message = "Usage batch hit a transient PostgreSQL error {SqlState} (attempt {Attempt}); writing it again")]
    private static partial void LogRetry(ILogger logger, string sqlState, int attempt);
}
