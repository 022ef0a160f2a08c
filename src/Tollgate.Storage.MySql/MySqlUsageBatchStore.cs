using System.Data;
using System.Globalization;
using System.Text;
using MySql.Data.MySqlClient;
using Tollgate.Data;

namespace Tollgate.Usage;

/// <summary>
/// MySQL's and MariaDB's fast path: the raw rows go in as multi-row <c>INSERT</c>s of up to a thousand rows each, roll-ups
/// and quota counters as multi-row <c>INSERT … ON DUPLICATE KEY UPDATE</c> that add to the stored values
/// (<c>count = count + VALUES(count)</c>), all in one transaction. The row lock the update takes makes the sums exact
/// with any number of writers.
/// </summary>
/// <remarks>
/// <c>VALUES(col)</c> rather than MySQL 8's row alias (<c>AS new … new.col</c>): MariaDB has no row alias, and MySQL
/// still accepts <c>VALUES()</c> (deprecated since 8.0.20, with a warning the driver ignores). <c>LOAD DATA LOCAL</c>
/// would be faster still but is off by default on both servers, so it cannot be the path every install takes.
/// </remarks>
internal sealed partial class MySqlUsageBatchStore(
    DatabaseDescription database,
    UsageEndpointIds endpoints,
    Microsoft.Extensions.Options.IOptions<UsageOptions> options,
    ILogger<MySqlUsageBatchStore> logger)
    : IUsageBatchStore
{
    /// <summary>Attempts when InnoDB picks this transaction as a deadlock victim; the whole batch is redone.</summary>
    private const int MaxAttempts = 5;

    /// <summary>Rows per multi-row statement: about 60 KB of SQL, far below max_allowed_packet (16 MB by default).</summary>
    private const int LogRowsPerStatement = 1000;

    /// <summary>Roll-up rows per statement: 9 values a row.</summary>
    private const int RollupRowsPerStatement = 500;

    private static readonly string LogColumns =
        $"INSERT INTO {UsageTables.Logs} ({UsageTables.List(UsageTables.LogColumns, Quote)}) VALUES ";

    private const string UpdateKey =
        "UPDATE api_keys SET last_used_at = @ts WHERE id = @id AND (last_used_at IS NULL OR last_used_at < @ts)";

    // MySQL reports a duplicate-key update that changes nothing as 1 row with MySql.Data's found-rows default, so the
    // mark is read under its row lock first, then advanced (see UsageWriterMark).
    private const string ReadMark = "SELECT last_sequence FROM usage_writer_marks WHERE writer_id = @w FOR UPDATE";

    private const string AdvanceMark =
        "INSERT INTO usage_writer_marks (writer_id, last_sequence) VALUES (@w, @s) ON DUPLICATE KEY UPDATE last_sequence = VALUES(last_sequence)";

    private static readonly (string Head, string Tail)[] RollupStatements =
        [.. RollupTiers.All.Select(t => Upsert(RollupTiers.Table(t), UsageTables.RollupKey, UsageTables.RollupSums))];

    // The rows the upsert just locked, with their stored sketches. FOR UPDATE reads the latest committed version (the
    // rows are this transaction's already, so it waits for no one).
    private static readonly string[] SelectSketches = [.. RollupTiers.All.Select(t =>
        $"SELECT {UsageTables.List(UsageTables.RollupKey, Quote)}, {UsageTables.RollupSketch} FROM {RollupTiers.Table(t)} " +
        $"WHERE ({UsageTables.List(UsageTables.RollupKey, Quote)}) IN (")];

    // Writes merged sketches into rows that exist (the upsert made them): the zero sums are never inserted.
    private static readonly string[] WriteSketches = [.. RollupTiers.All.Select(t =>
        $"INSERT INTO {RollupTiers.Table(t)} ({UsageTables.List([.. UsageTables.RollupColumns, UsageTables.RollupSketch], Quote)}) VALUES ")];

    private const string WriteSketchesTail = $" ON DUPLICATE KEY UPDATE {UsageTables.RollupSketch} = VALUES({UsageTables.RollupSketch})";

    private static readonly (string Head, string Tail) QuotaStatement = Upsert(UsageTables.QuotaCounters, UsageTables.QuotaKey, UsageTables.QuotaSums);

    // The webhooks' outbox. A duplicate key (a replayed batch, a second instance's duplicate) updates nothing: the
    // no-op assignment keeps the row as it is, where INSERT IGNORE would also silence every other error.
    private static readonly string InsertAlertsHead =
        $"INSERT INTO {UsageTables.QuotaAlerts} ({UsageTables.List(UsageTables.AlertColumns, Quote)}) VALUES ";

    private const string InsertAlertsTail = " ON DUPLICATE KEY UPDATE `tenant_id` = `tenant_id`";

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
            catch (MySqlException ex) when (attempt < MaxAttempts &&
                ex.Number is (int)MySqlErrorCode.LockDeadlock or (int)MySqlErrorCode.LockWaitTimeout)
            {
                // Rows are locked in one order (UsageBatchLockOrder), but InnoDB can still pick a victim when two
                // instances insert new rows into the same index gap. Nothing was committed; redo it all.
                LogRetry(logger, ex.Number, attempt);
            }
            catch (Exception ex) when (ex is MySqlException or IOException or System.Net.Sockets.SocketException)
            {
                // The server went away: every pooled connection is dead too, and MySql.Data would hand them out one
                // by one, failing each retry of the writer until the pool had been worked through (a restarted MariaDB
                // took more than 30 s to be written to again). Clearing the pool makes the next attempt connect anew.
                if (ex is not MySqlException { Number: (int)MySqlErrorCode.LockDeadlock or (int)MySqlErrorCode.LockWaitTimeout })
                {
                    await using var connection = new MySqlConnection(database.ConnectionString);
                    MySqlConnection.ClearPool(connection);
                }

                throw;
            }
        }
    }

    private async Task WriteOnceAsync(UsageBatch batch, CancellationToken ct)
    {
        await using var connection = new MySqlConnection(database.ConnectionString);
        await connection.OpenAsync(ct);
        await endpoints.EnsureAsync(connection, batch.Events, ct);
        // READ COMMITTED takes no gap locks on the upserted indexes, which is most of what makes concurrent
        // ON DUPLICATE KEY UPDATE deadlock under InnoDB's default REPEATABLE READ. The sums stay exact: the update
        // always reads the latest committed row under its lock.
        await using var tx = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, ct);
        if (batch.Mark is { } mark)
        {
            await using var read = new MySqlCommand(ReadMark, connection, tx);
            read.Parameters.AddWithValue("@w", mark.WriterId);
            if (await read.ExecuteScalarAsync(ct) is { } stored and not DBNull && Convert.ToInt64(stored, CultureInfo.InvariantCulture) >= mark.From)
            {
                batch.AlreadyStored = true;
                return; // stored before: the transaction is rolled back when disposed
            }

            await using var advance = new MySqlCommand(AdvanceMark, connection, tx);
            advance.Parameters.AddWithValue("@w", mark.WriterId);
            advance.Parameters.AddWithValue("@s", mark.Sequence);
            await advance.ExecuteNonQueryAsync(ct);
        }

        var events = options.Value.RawLogs == RawLogPolicy.All ? batch.Events : [.. batch.Events.Where(e => options.Value.KeepsRawRow(e))];
        for (var offset = 0; offset < events.Count; offset += LogRowsPerStatement)
        {
            var rows = Math.Min(LogRowsPerStatement, events.Count - offset);
            var values = new RowValues(LogColumns, rows * 64);
            for (var i = 0; i < rows; i++)
            {
                var e = events[offset + i];
                values.StartRow()
                    .Number(e.TenantId).Number(e.ApiKeyId).Number(UnixMilliseconds.From(e.Timestamp)).Number(endpoints.IdOf(e.Method, e.Endpoint))
                    .Number(e.StatusCode).Number(e.LatencyMicros).Number((int)e.Outcome).Number(e.UpstreamLatencyMicros)
                    .EndRow();
            }

            await ExecuteAsync(connection, tx, values, string.Empty, ct);
        }

        foreach (var tier in RollupTiers.All)
        {
            await WriteRollupsAsync(connection, tx, tier, UsageBatchLockOrder.Rollups(batch, tier), ct);
        }

        var quota = UsageBatchLockOrder.QuotaIncrements(batch);
        if (quota.Length > 0)
        {
            var values = new RowValues(QuotaStatement.Head, quota.Length * 80);
            foreach (var (key, increment) in quota)
            {
                values.StartRow().Number(key.TenantId).Text(EnumNames.Of(key.Period)).Time(key.PeriodStart)
                    .Number(increment.Used).Number(increment.Unshared).EndRow();
            }

            await ExecuteAsync(connection, tx, values, QuotaStatement.Tail, ct);
        }

        if (batch.Alerts.Count > 0)
        {
            var values = new RowValues(InsertAlertsHead, batch.Alerts.Count * 80);
            foreach (var a in batch.Alerts)
            {
                values.StartRow().Number(a.TenantId).Number(a.Threshold).Text(EnumNames.Of(a.Period)).Time(a.PeriodStart)
                    .Number(a.Used).Number(a.Limit).Time(a.CrossedAt).EndRow();
            }

            await ExecuteAsync(connection, tx, values, InsertAlertsTail, ct);
        }

        if (batch.KeysLastUsed.Count > 0)
        {
            await using var command = new MySqlCommand(UpdateKey, connection, tx);
            var id = command.Parameters.Add("@id", MySqlDbType.Int64);
            var ts = command.Parameters.Add("@ts", MySqlDbType.DateTime);
            foreach (var (keyId, lastUsed) in UsageBatchLockOrder.KeysLastUsed(batch))
            {
                id.Value = keyId;
                ts.Value = AsUtc(lastUsed);
                await command.ExecuteNonQueryAsync(ct);
            }
        }

        await tx.CommitAsync(ct);
    }

    private static async Task WriteRollupsAsync(
        MySqlConnection connection, MySqlTransaction tx, RollupTier tier, KeyValuePair<RollupKey, RollupValues>[] rollups, CancellationToken ct)
    {
        var merge = new RollupSketchMerge(rollups);
        for (var offset = 0; offset < rollups.Length; offset += RollupRowsPerStatement)
        {
            var rows = new ArraySegment<KeyValuePair<RollupKey, RollupValues>>(rollups, offset, Math.Min(RollupRowsPerStatement, rollups.Length - offset));
            var sums = new RowValues(RollupStatements[(int)tier].Head, rows.Count * 100);
            var keys = new RowValues(SelectSketches[(int)tier], rows.Count * 80);
            foreach (var (key, values) in rows)
            {
                Key(sums.StartRow(), key).Number(values.Count).Number(values.LatencySumMicros).Number(values.UpstreamLatencySumMicros).EndRow();
                Key(keys.StartRow(), key).EndRow();
            }

            await ExecuteAsync(connection, tx, sums, RollupStatements[(int)tier].Tail, ct);

            await using (var select = new MySqlCommand(keys.Sql(") FOR UPDATE"), connection, tx))
            {
                select.Parameters.AddRange(keys.Parameters);
                await using var reader = await select.ExecuteReaderAsync(ct);
                while (await reader.ReadAsync(ct))
                {
                    var key = new RollupKey(
                        reader.GetInt64(0), DateTime.SpecifyKind(reader.GetDateTime(1), DateTimeKind.Utc), reader.GetString(2),
                        reader.GetString(3), reader.GetInt32(4), Enum.Parse<LimitOutcome>(reader.GetString(5)));
                    merge.AddStored(key, reader.IsDBNull(6) ? [] : (byte[])reader.GetValue(6));
                }
            }

            var sketches = new RowValues(WriteSketches[(int)tier], rows.Count * 100);
            foreach (var (key, _) in rows)
            {
                Key(sketches.StartRow(), key).Number(0).Number(0).Number(0).Bytes(merge.Encoded(key)).EndRow();
            }

            await ExecuteAsync(connection, tx, sketches, WriteSketchesTail, ct);
        }
    }

    private static RowValues Key(RowValues values, in RollupKey key) =>
        values.Number(key.TenantId).Time(key.BucketStart).Text(key.Method).Text(key.Endpoint).Number(key.StatusCode).Text(EnumNames.Of(key.Outcome));

    private static async Task ExecuteAsync(MySqlConnection connection, MySqlTransaction tx, RowValues values, string tail, CancellationToken ct)
    {
        await using var command = new MySqlCommand(values.Sql(tail), connection, tx);
        command.Parameters.AddRange(values.Parameters);
        await command.ExecuteNonQueryAsync(ct);
    }

    /// <summary>UTC as the EF Core converter makes it (<see cref="TollgateDbContext"/>); the events' times are UTC already.</summary>
    private static DateTime AsUtc(DateTime value) => value.Kind == DateTimeKind.Utc ? value : value.ToUniversalTime();

    /// <summary>
    /// A multi-row additive upsert: the head up to <c>VALUES</c>, rows appended by <see cref="RowValues"/>, and the
    /// <c>ON DUPLICATE KEY UPDATE</c> tail that adds the sums. Names are quoted: <c>count</c> is a MySQL keyword.
    /// </summary>
    private static (string Head, string Tail) Upsert(string table, IReadOnlyList<string> key, IReadOnlyList<string> sums) =>
        ($"INSERT INTO {table} ({UsageTables.List([.. key, .. sums], Quote)}) VALUES ",
         $" ON DUPLICATE KEY UPDATE {UsageTables.AddTo(sums.Select(Quote), c => c, c => $"VALUES({c})")}");

    private static string Quote(string column) => $"`{column}`";

    /// <summary>
    /// The VALUES list of a multi-row statement. Numbers and times are written into the SQL as literals, formatted
    /// here from <see cref="long"/> and <see cref="DateTime"/> values, so nothing a client sends can reach the SQL
    /// text; text goes in as parameters, one per distinct string (a batch repeats a few endpoint names thousands of
    /// times). With a parameter for every value MySql.Data managed about 15,000 events/s here, its parameter handling
    /// taking most of the time.
    /// </summary>
    private sealed class RowValues(string head, int capacity)
    {
        private readonly StringBuilder _sql = new(head, head.Length + capacity);
        private readonly Dictionary<string, string> _names = new(StringComparer.Ordinal);
        private readonly List<MySqlParameter> _parameters = [];
        private bool _firstRow = true;
        private bool _firstValue;

        public MySqlParameter[] Parameters => [.. _parameters];

        public RowValues StartRow()
        {
            _sql.Append(_firstRow ? "(" : ",(");
            _firstRow = false;
            _firstValue = true;
            return this;
        }

        public RowValues Number(long value)
        {
            Separate().Append(value.ToString(CultureInfo.InvariantCulture));
            return this;
        }

        public RowValues Time(DateTime value)
        {
            Separate().Append('\'').Append(AsUtc(value).ToString("yyyy-MM-dd HH:mm:ss.ffffff", CultureInfo.InvariantCulture)).Append('\'');
            return this;
        }

        public RowValues Text(string value)
        {
            if (!_names.TryGetValue(value, out var name))
            {
                name = "@s" + _names.Count.ToString(CultureInfo.InvariantCulture);
                _names.Add(value, name);
                _parameters.Add(new MySqlParameter(name, MySqlDbType.VarChar) { Value = value });
            }

            Separate().Append(name);
            return this;
        }

        public RowValues Bytes(byte[] value)
        {
            var name = "@b" + _parameters.Count.ToString(CultureInfo.InvariantCulture);
            _parameters.Add(new MySqlParameter(name, MySqlDbType.Blob) { Value = value });
            Separate().Append(name);
            return this;
        }

        public RowValues EndRow()
        {
            _sql.Append(')');
            return this;
        }

        public string Sql(string tail) => _sql.Append(tail).ToString();

        private StringBuilder Separate()
        {
            if (!_firstValue)
            {
                _sql.Append(',');
            }

            _firstValue = false;
            return _sql;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Usage batch hit a transient MySQL error {Number} (attempt {Attempt}); writing it again")]
    private static partial void LogRetry(ILogger logger, int number, int attempt);
}
