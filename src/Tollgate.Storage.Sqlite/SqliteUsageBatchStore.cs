using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using SQLitePCL;
using Tollgate.Data;

namespace Tollgate.Usage;

/// <summary>
/// SQLite's fast path: one connection kept open by the single writer, its statements prepared once on it and
/// re-executed with new values, everything of a batch in one transaction. Roll-ups and counters are additive upserts.
/// </summary>
/// <remarks>
/// Values are bound through SQLitePCL's <c>raw</c> API rather than <see cref="SqliteParameter"/>: the writer shares
/// the machine's cores with the request path, so its CPU per event is taken from the requests per second. bench/run's
/// ingestion harness (1 tenant) measured 207,000 events per CPU-second with ADO.NET parameters (a boxed value per
/// column, a data reader per row, statements parsed again for every batch) and 290,000 with this; what is left is
/// mostly SQLite's own B-tree work. Transactions are still begun and committed through ADO.NET
/// (<c>BEGIN IMMEDIATE</c>, which waits out other writers, so the raw statements never meet SQLITE_BUSY).
/// </remarks>
internal sealed class SqliteUsageBatchStore(DatabaseDescription database, UsageEndpointIds endpoints, IOptions<UsageOptions> options)
    : IUsageBatchStore, IAsyncDisposable
{
    // Raw rows go in LogRowsPerInsert at a time: the log table's AUTOINCREMENT reads and rewrites sqlite_sequence once
    // per statement, which with one row a statement was half of a row's cost. A side-by-side loop (this schema, one
    // tenant, 500-row transactions, 2026-12-01): 2.75 µs of CPU a row one by one, 1.47 µs 32 at a time. OR FAIL because a
    // statement of several rows that may abort halfway otherwise keeps a statement journal, a copy of every page it
    // changes: with 1,000 tenants, whose rows land on as many index pages, 32 rows a statement cost 10.3 µs a row
    // against 7.2 one by one; with OR FAIL 7.5. A failure still rolls the whole batch back (WriteCore's transaction).
    private const int LogRowsPerInsert = 32;

    private static readonly string InsertLogSql = InsertLogs(1);

    private static readonly string InsertLogsSql = InsertLogs(LogRowsPerInsert);

    private static readonly string UpsertQuotaSql = Upsert(UsageTables.QuotaCounters, UsageTables.QuotaKey, UsageTables.QuotaSums);

    private const string UpdateKeySql =
        "UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at < ?2)";

    // Advances the writer's mark, or changes nothing when the batch is already stored (see UsageWriterMark).
    private const string AdvanceMarkSql =
        "INSERT INTO usage_writer_marks (writer_id, last_sequence) VALUES (?1, ?2) " +
        "ON CONFLICT (writer_id) DO UPDATE SET last_sequence = excluded.last_sequence WHERE last_sequence < ?3";

    // Per tier: read the row's sketch, then upsert the sums and the merged sketch. The writer holds SQLite's one write
    // lock (BEGIN IMMEDIATE) from the read to the commit, so no other writer can merge into the row in between.
    private static readonly string[] SelectSketchSql = [.. RollupTiers.All.Select(t =>
        $"SELECT {UsageTables.RollupSketch} FROM {RollupTiers.Table(t)} WHERE " +
        string.Join(" AND ", UsageTables.RollupKey.Select((c, i) => $"{c} = ?{i + 1}")))];

    private static readonly string[] UpsertRollupSql = [.. RollupTiers.All.Select(t =>
        $"INSERT INTO {RollupTiers.Table(t)} ({UsageTables.List([.. UsageTables.RollupColumns, UsageTables.RollupSketch])}) " +
        $"VALUES ({Parameters(UsageTables.RollupColumns.Count + 1)}) " +
        $"ON CONFLICT ({UsageTables.List(UsageTables.RollupKey)}) DO UPDATE SET " +
        $"{UsageTables.AddTo(UsageTables.RollupSums, c => c, c => "excluded." + c)}, " +
        $"{UsageTables.RollupSketch} = excluded.{UsageTables.RollupSketch}")];

    // The webhooks' outbox: a crossing stored before (a replayed batch, a second instance's duplicate) inserts nothing.
    private static readonly string InsertAlertSql =
        $"INSERT INTO {UsageTables.QuotaAlerts} ({UsageTables.List(UsageTables.AlertColumns)}) VALUES ({Parameters(UsageTables.AlertColumns.Count)}) " +
        $"ON CONFLICT ({UsageTables.List(UsageTables.AlertKey)}) DO NOTHING";

    private readonly SemaphoreSlim _gate = new(1, 1);
    private SqliteConnection? _connection;
    private Statements? _statements;

    public async Task WriteAsync(UsageBatch batch, CancellationToken cancellationToken)
    {
        // The writer is single-threaded, but the demo generator also writes batches; one at a time.
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var (connection, statements) = await OpenAsync(cancellationToken);
            try
            {
                await endpoints.EnsureAsync(connection, batch.Events, cancellationToken);
                WriteCore(connection, statements, batch, endpoints, options.Value);
            }
            catch
            {
                // A broken connection must not be reused for the retry, nor go back to the pool: after a failed write
                // (a full disk) its transaction may still be open and hold the write lock, and every later
                // BEGIN IMMEDIATE would wait the busy timeout for it (the spool's replay stalled so, once in a while).
                if (_connection is { } broken)
                {
                    SqliteConnection.ClearPool(broken);
                }

                await CloseAsync();
                throw;
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The writer connection's <c>PRAGMA synchronous</c> (1 NORMAL, 2 FULL); opens it when needed. For tests.</summary>
    internal async Task<long> SynchronousLevelAsync(CancellationToken cancellationToken = default)
    {
        var (connection, _) = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA synchronous";
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
    }

    public async ValueTask DisposeAsync()
    {
        await CloseAsync();
        _gate.Dispose();
    }

    // Synchronous on purpose: Microsoft.Data.Sqlite's async methods run synchronously anyway.
    private static void WriteCore(SqliteConnection connection, Statements statements, UsageBatch batch, UsageEndpointIds endpoints, UsageOptions rows)
    {
        using var tx = connection.BeginTransaction();
        Span<char> text = stackalloc char[32];
        if (batch.Mark is { } mark)
        {
            var advance = statements.AdvanceMark;
            advance.Bind(1, mark.WriterId);
            advance.Bind(2, mark.Sequence);
            advance.Bind(3, mark.From);
            advance.Execute();
            if (raw.sqlite3_changes(connection.Handle) == 0)
            {
                batch.AlreadyStored = true;
                // Stored before (its commit's answer was lost, or a replay was interrupted): roll back, skip it.
                return;
            }
        }

        // The rows to keep, gathered a group at a time: a full group is one statement, the last partial one goes row by row.
        Span<int> group = stackalloc int[LogRowsPerInsert];
        var gathered = 0;
        var everyRow = rows.RawLogs == RawLogPolicy.All;
        var events = batch.Events;
        for (var i = 0; i < events.Count; i++)
        {
            if (!everyRow && !rows.KeepsRawRow(events[i]))
            {
                continue;
            }

            group[gathered++] = i;
            if (gathered == LogRowsPerInsert)
            {
                for (var row = 0; row < LogRowsPerInsert; row++)
                {
                    BindLog(statements.InsertLogs, row * UsageTables.LogColumns.Count, events[group[row]], endpoints);
                }

                statements.InsertLogs.Execute();
                gathered = 0;
            }
        }

        foreach (var i in group[..gathered])
        {
            BindLog(statements.InsertLog, 0, events[i], endpoints);
            statements.InsertLog.Execute();
        }

        foreach (var tier in RollupTiers.All)
        {
            var select = statements.SelectSketch[(int)tier];
            var rollup = statements.UpsertRollup[(int)tier];
            foreach (var (key, values) in batch.RollupsOf(tier))
            {
                BindKey(select, key, text);
                // A new sketch, not the batch's: a batch whose transaction fails is written again later.
                var sketch = new LatencySketch();
                sketch.Merge(values.Latency);
                select.ReadBlob(sketch.Merge);
                BindKey(rollup, key, text);
                rollup.Bind(7, values.Count);
                rollup.Bind(8, values.LatencySumMicros);
                rollup.Bind(9, values.UpstreamLatencySumMicros);
                rollup.Bind(10, sketch.Encode());
                rollup.Execute();
            }
        }

        var quota = statements.UpsertQuota;
        foreach (var (key, increment) in batch.QuotaIncrements)
        {
            quota.Bind(1, key.TenantId);
            quota.Bind(2, EnumNames.Of(key.Period));
            quota.Bind(3, key.PeriodStart, text);
            quota.Bind(4, increment.Used);
            quota.Bind(5, increment.Unshared);
            quota.Execute();
        }

        var alert = statements.InsertAlert;
        foreach (var a in batch.Alerts)
        {
            alert.Bind(1, a.TenantId);
            alert.Bind(2, a.Threshold);
            alert.Bind(3, EnumNames.Of(a.Period));
            alert.Bind(4, a.PeriodStart, text);
            alert.Bind(5, a.Used);
            alert.Bind(6, a.Limit);
            alert.Bind(7, a.CrossedAt, text);
            alert.Execute();
        }

        var keys = statements.UpdateKey;
        // In id order: consecutive updates share the pages of api_keys (20,000 keys of a million at a time, see
        // PendingKeyUses).
        foreach (var (keyId, lastUsed) in UsageBatchLockOrder.KeysLastUsed(batch))
        {
            keys.Bind(1, keyId);
            keys.Bind(2, lastUsed, text);
            keys.Execute();
        }

        tx.Commit();
    }

    /// <summary>Binds one raw row's values, in <see cref="UsageTables.LogColumns"/> order, after <paramref name="offset"/>.</summary>
    private static void BindLog(RawStatement insert, int offset, in UsageEvent e, UsageEndpointIds endpoints)
    {
        insert.Bind(offset + 1, e.TenantId);
        insert.Bind(offset + 2, e.ApiKeyId);
        insert.Bind(offset + 3, UnixMilliseconds.From(e.Timestamp));
        insert.Bind(offset + 4, endpoints.IdOf(e.Method, e.Endpoint));
        insert.Bind(offset + 5, e.StatusCode);
        insert.Bind(offset + 6, e.LatencyMicros);
        insert.Bind(offset + 7, (int)e.Outcome);
        insert.Bind(offset + 8, e.UpstreamLatencyMicros);
    }

    private static void BindKey(RawStatement statement, in RollupKey key, Span<char> text)
    {
        statement.Bind(1, key.TenantId);
        statement.Bind(2, key.BucketStart, text);
        statement.Bind(3, key.Method);
        statement.Bind(4, key.Endpoint);
        statement.Bind(5, key.StatusCode);
        statement.Bind(6, EnumNames.Of(key.Outcome));
    }

    private async Task<(SqliteConnection, Statements)> OpenAsync(CancellationToken ct)
    {
        if (_connection is not null && _statements is not null)
        {
            return (_connection, _statements);
        }

        // Not pooled: the writer keeps this one connection open for its whole life, so a pool buys nothing, and a
        // connection whose write failed (a full disk) must really close, which rolls back whatever transaction it still
        // holds. Returned to a pool it kept the write lock, and every later BEGIN IMMEDIATE (the spool's replay) waited
        // the busy timeout, again and again (StorageOutageTests, SQLite on a full volume: stuck for 150 s and more).
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder(SqliteConnectionTuning.Tune(database.ConnectionString))
        {
            Pooling = false,
        }.ToString());
        await connection.OpenAsync(ct);
        await using (var pragma = connection.CreateCommand())
        {
            // In WAL mode NORMAL never corrupts the file and survives a process crash; only an OS crash or power
            // loss can lose the last transactions. It is what makes tens of thousands of rows a second possible.
            // With many tenants each batch writes near the end of every tenant's range of the (tenant_id, timestamp)
            // index and of the roll-ups' key: a 32 MiB page cache (the default is 2 MiB) keeps those pages in memory,
            // and checkpointing every 10,000 pages rather than 1,000 writes each hot page back once for many batches.
            // bench/run's ingestion harness, 1,000 tenants, 50,000-event batches: 94,000 events/s without the two
            // settings, 166,000 with them.
            // Durability=Synchronous promises that an answered request's row survives anything, power loss included,
            // so there each commit waits for the WAL's fsync (FULL); the writer's group commit shares one fsync
            // among every request that waited for it.
            // A busy lock (the retention clean-up's short deletes, an admin write) is waited for by SQLite's own busy
            // handler, which retries within milliseconds, rather than by Microsoft.Data.Sqlite's retry loop, which
            // sleeps 150 ms each time. Measured while the clean-up deleted 300,000 rows and 250,000 roll-ups beside a
            // writer committing 100 events every 10 ms: the writer's p99 went from 150 ms to 19 ms (max 600 to 29 ms).
            var synchronous = options.Value.Durability == UsageDurability.Synchronous ? "FULL" : "NORMAL";
            var busyTimeout = (connection.DefaultTimeout * 1000L).ToString(CultureInfo.InvariantCulture);
            pragma.CommandText = $"PRAGMA synchronous={synchronous}; PRAGMA cache_size=-32768; PRAGMA wal_autocheckpoint=10000; PRAGMA busy_timeout={busyTimeout};";
            await pragma.ExecuteNonQueryAsync(ct);
        }

        try
        {
            _statements = new Statements(connection.Handle!);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }

        _connection = connection;
        return (connection, _statements);
    }

    private async Task CloseAsync()
    {
        // Statements first: a connection goes back to the pool, and must not carry ours with it.
        _statements?.Dispose();
        _statements = null;
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
            _connection = null;
        }
    }

    /// <summary>An insert of <paramref name="rows"/> raw rows, bound as ?1 … ?(8 × rows), row after row.</summary>
    private static string InsertLogs(int rows)
    {
        var columns = UsageTables.LogColumns.Count;
        var values = string.Join(", ", Enumerable.Range(0, rows).Select(r =>
            "(" + string.Join(", ", Enumerable.Range(r * columns + 1, columns).Select(i => $"?{i}")) + ")"));
        return $"INSERT OR FAIL INTO {UsageTables.Logs} ({UsageTables.List(UsageTables.LogColumns)}) VALUES {values}";
    }

    /// <summary>?1, ?2, … ?n.</summary>
    private static string Parameters(int count) => string.Join(", ", Enumerable.Range(1, count).Select(i => $"?{i}"));

    /// <summary>An additive upsert of one row: its key, then its sums, bound as ?1 … ?n.</summary>
    private static string Upsert(string table, IReadOnlyList<string> key, IReadOnlyList<string> sums) =>
        $"INSERT INTO {table} ({UsageTables.List([.. key, .. sums])}) VALUES ({Parameters(key.Count + sums.Count)}) " +
        $"ON CONFLICT ({UsageTables.List(key)}) DO UPDATE SET {UsageTables.AddTo(sums, c => c, c => "excluded." + c)}";

    /// <summary>The writer's statements, prepared once per connection.</summary>
    private sealed class Statements : IDisposable
    {
        private readonly List<RawStatement> _prepared = [];

        public Statements(sqlite3 db)
        {
            try
            {
                InsertLog = Prepare(db, InsertLogSql);
                InsertLogs = Prepare(db, InsertLogsSql);
                SelectSketch = [.. SelectSketchSql.Select(sql => Prepare(db, sql))];
                UpsertRollup = [.. UpsertRollupSql.Select(sql => Prepare(db, sql))];
                UpsertQuota = Prepare(db, UpsertQuotaSql);
                UpdateKey = Prepare(db, UpdateKeySql);
                AdvanceMark = Prepare(db, AdvanceMarkSql);
                InsertAlert = Prepare(db, InsertAlertSql);
            }
            catch
            {
                Dispose();
                throw;
            }
        }

        public RawStatement InsertLog { get; }

        /// <summary>Inserts <see cref="LogRowsPerInsert"/> raw rows.</summary>
        public RawStatement InsertLogs { get; }

        /// <summary>Per tier (<see cref="RollupTier"/> order): a roll-up row's stored sketch.</summary>
        public RawStatement[] SelectSketch { get; }

        /// <summary>Per tier: the roll-up upsert.</summary>
        public RawStatement[] UpsertRollup { get; }

        public RawStatement UpsertQuota { get; }

        public RawStatement UpdateKey { get; }

        public RawStatement AdvanceMark { get; }

        public RawStatement InsertAlert { get; }

        public void Dispose()
        {
            foreach (var statement in _prepared)
            {
                statement.Dispose();
            }

            _prepared.Clear();
        }

        private RawStatement Prepare(sqlite3 db, string sql)
        {
            var statement = new RawStatement(db, sql);
            _prepared.Add(statement);
            return statement;
        }
    }

    /// <summary>Reads the bytes of a column while SQLite still holds them.</summary>
    private delegate void ReadSpan(ReadOnlySpan<byte> value);

    /// <summary>A prepared statement bound by position without boxing; text is copied by SQLite at bind time.</summary>
    /// <remarks>
    /// An integer parameter that already holds the value is not bound again: SQLite keeps a statement's bindings across
    /// <c>sqlite3_reset</c> (and moves them over when it prepares a statement again after a schema change). Most of a raw
    /// row's eight values repeat from the row bound at the same place before (tenant, key, endpoint, status, outcome,
    /// upstream share), and each bind is a P/Invoke that takes the statement's SafeHandle and the connection's mutex:
    /// together 0.36 µs of the ping's server CPU in its profile (pthread mutex, SafeHandle, stub; 2026-12-01). Measured:
    /// the ingestion harness (1 tenant, 30,000 events/s, 600,000 events) run beside itself, old and new build at once so
    /// that both see the same machine, four times: 4.89/5.20/6.42/5.32 against 4.75/5.04/6.05/5.01 CPU-seconds, the new one
    /// lower every time (0.2–0.6 µs an event).
    /// </remarks>
    private sealed class RawStatement : IDisposable
    {
        private readonly sqlite3 _db;
        private readonly sqlite3_stmt _statement;

        // Per parameter (1-based, as SQLite counts them): the integer it holds, when Known says it holds one.
        private readonly long[] _bound;
        private readonly bool[] _known;

        public RawStatement(sqlite3 db, string sql)
        {
            _db = db;
            var rc = raw.sqlite3_prepare_v2(db, sql, out _statement);
            SqliteException.ThrowExceptionForRC(rc, db);
            var parameters = raw.sqlite3_bind_parameter_count(_statement) + 1;
            _bound = new long[parameters];
            _known = new bool[parameters];
        }

        public void Bind(int index, long value)
        {
            if (_known[index] && _bound[index] == value)
            {
                return;
            }

            // Forgotten first: if the bind fails, the parameter's value is not known any more.
            _known[index] = false;
            Check(raw.sqlite3_bind_int64(_statement, index, value));
            _bound[index] = value;
            _known[index] = true;
        }

        public void Bind(int index, string value)
        {
            _known[index] = false;
            Check(raw.sqlite3_bind_text16(_statement, index, value));
        }

        /// <summary>A UTC time as EF Core's SQLite provider stores it (<c>yyyy-MM-dd HH:mm:ss.FFFFFFF</c>).</summary>
        public void Bind(int index, DateTime value, Span<char> buffer)
        {
            _known[index] = false;
            value.TryFormat(buffer, out var length, @"yyyy\-MM\-dd HH\:mm\:ss.FFFFFFF", CultureInfo.InvariantCulture);
            Check(raw.sqlite3_bind_text16(_statement, index, buffer[..length]));
        }

        public void Bind(int index, byte[] value)
        {
            _known[index] = false;
            Check(raw.sqlite3_bind_blob(_statement, index, value));
        }

        /// <summary>Runs a query of one blob column and hands its value to <paramref name="read"/> if a row came back.</summary>
        public void ReadBlob(ReadSpan read)
        {
            var rc = raw.sqlite3_step(_statement);
            try
            {
                if (rc == raw.SQLITE_ROW)
                {
                    read(raw.sqlite3_column_blob(_statement, 0));
                }
                else if (rc != raw.SQLITE_DONE)
                {
                    SqliteException.ThrowExceptionForRC(rc, _db);
                }
            }
            finally
            {
                raw.sqlite3_reset(_statement);
            }
        }

        /// <summary>Runs the statement (it returns no rows) and resets it for the next values.</summary>
        public void Execute()
        {
            var rc = raw.sqlite3_step(_statement);
            raw.sqlite3_reset(_statement);
            if (rc != raw.SQLITE_DONE)
            {
                SqliteException.ThrowExceptionForRC(rc, _db);
            }
        }

        public void Dispose() => _statement.Dispose();

        private void Check(int rc)
        {
            if (rc != raw.SQLITE_OK)
            {
                SqliteException.ThrowExceptionForRC(rc, _db);
            }
        }
    }
}
