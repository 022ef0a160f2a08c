using System.Text;
using Microsoft.Data.Sqlite;
using Tollgate.Data;

namespace Tollgate.Usage;

/// <summary>
/// SQLite's fast path: one connection kept open by the single writer, prepared statements re-executed with new
/// parameter values, everything in one transaction. Roll-ups and counters are additive upserts.
/// </summary>
internal sealed class SqliteUsageBatchStore(DatabaseDescription database) : IUsageBatchStore, IAsyncDisposable
{
    private const string InsertLog =
        "INSERT INTO usage_logs (tenant_id, api_key_id, timestamp, method, endpoint, status_code, latency_micros, outcome) " +
        "VALUES ($t, $k, $ts, $m, $e, $s, $l, $o)";

    private const string UpsertQuota =
        "INSERT INTO quota_counters (tenant_id, period, period_start, used) VALUES ($t, $p, $ps, $u) " +
        "ON CONFLICT (tenant_id, period, period_start) DO UPDATE SET used = used + excluded.used";

    private const string UpdateKey =
        "UPDATE api_keys SET last_used_at = $ts WHERE id = $id AND (last_used_at IS NULL OR last_used_at < $ts)";

    private static readonly string UpsertRollup = BuildRollupUpsert();

    private readonly SemaphoreSlim _gate = new(1, 1);
    private SqliteConnection? _connection;

    public async Task WriteAsync(UsageBatch batch, CancellationToken cancellationToken)
    {
        // The writer is single-threaded, but the demo generator also writes batches; one at a time.
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var connection = await OpenAsync(cancellationToken);
            try
            {
                await WriteCoreAsync(connection, batch, cancellationToken);
            }
            catch
            {
                // A broken connection must not be reused for the retry.
                await connection.DisposeAsync();
                _connection = null;
                throw;
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
        }

        _gate.Dispose();
    }

    private static async Task WriteCoreAsync(SqliteConnection connection, UsageBatch batch, CancellationToken ct)
    {
        await using var tx = (SqliteTransaction)await connection.BeginTransactionAsync(ct);

        await using (var insert = connection.CreateCommand())
        {
            insert.Transaction = tx;
            insert.CommandText = InsertLog;
            var t = insert.Parameters.Add("$t", SqliteType.Integer);
            var k = insert.Parameters.Add("$k", SqliteType.Integer);
            var ts = insert.Parameters.Add("$ts", SqliteType.Text);
            var m = insert.Parameters.Add("$m", SqliteType.Text);
            var e = insert.Parameters.Add("$e", SqliteType.Text);
            var s = insert.Parameters.Add("$s", SqliteType.Integer);
            var l = insert.Parameters.Add("$l", SqliteType.Integer);
            var o = insert.Parameters.Add("$o", SqliteType.Text);
            insert.Prepare();
            foreach (var ev in batch.Events)
            {
                t.Value = ev.TenantId;
                k.Value = ev.ApiKeyId;
                ts.Value = ev.Timestamp;
                m.Value = ev.Method;
                e.Value = ev.Endpoint;
                s.Value = ev.StatusCode;
                l.Value = ev.LatencyMicros;
                o.Value = EnumNames.Of(ev.Outcome);
                await insert.ExecuteNonQueryAsync(ct);
            }
        }

        await using (var rollup = connection.CreateCommand())
        {
            rollup.Transaction = tx;
            rollup.CommandText = UpsertRollup;
            var p = new SqliteParameter[8 + LatencyHistogram.BucketCount];
            for (var i = 0; i < p.Length; i++)
            {
                p[i] = rollup.Parameters.Add("$p" + i.ToString(System.Globalization.CultureInfo.InvariantCulture), SqliteType.Integer);
            }

            rollup.Prepare();
            foreach (var (key, values) in batch.Rollups)
            {
                p[0].Value = key.TenantId;
                p[1].Value = key.BucketStart;
                p[2].Value = key.Method;
                p[3].Value = key.Endpoint;
                p[4].Value = key.StatusCode;
                p[5].Value = EnumNames.Of(key.Outcome);
                p[6].Value = values.Count;
                p[7].Value = values.LatencySumMicros;
                for (var b = 0; b < LatencyHistogram.BucketCount; b++)
                {
                    p[8 + b].Value = values.Histogram[b];
                }

                await rollup.ExecuteNonQueryAsync(ct);
            }
        }

        await using (var quota = connection.CreateCommand())
        {
            quota.Transaction = tx;
            quota.CommandText = UpsertQuota;
            var t = quota.Parameters.Add("$t", SqliteType.Integer);
            var period = quota.Parameters.Add("$p", SqliteType.Text);
            var start = quota.Parameters.Add("$ps", SqliteType.Text);
            var used = quota.Parameters.Add("$u", SqliteType.Integer);
            foreach (var (key, count) in batch.QuotaIncrements)
            {
                t.Value = key.TenantId;
                period.Value = EnumNames.Of(key.Period);
                start.Value = key.PeriodStart;
                used.Value = count;
                await quota.ExecuteNonQueryAsync(ct);
            }
        }

        await using (var keys = connection.CreateCommand())
        {
            keys.Transaction = tx;
            keys.CommandText = UpdateKey;
            var id = keys.Parameters.Add("$id", SqliteType.Integer);
            var ts = keys.Parameters.Add("$ts", SqliteType.Text);
            foreach (var (keyId, lastUsed) in batch.KeysLastUsed)
            {
                id.Value = keyId;
                ts.Value = lastUsed;
                await keys.ExecuteNonQueryAsync(ct);
            }
        }

        await tx.CommitAsync(ct);
    }

    private async Task<SqliteConnection> OpenAsync(CancellationToken ct)
    {
        if (_connection is not null)
        {
            return _connection;
        }

        var connection = new SqliteConnection(SqliteConnectionTuning.Tune(database.ConnectionString));
        await connection.OpenAsync(ct);
        await using (var pragma = connection.CreateCommand())
        {
            // In WAL mode NORMAL never corrupts the file and survives a process crash; only an OS crash or power
            // loss can lose the last transactions. It is what makes tens of thousands of rows a second possible.
            pragma.CommandText = "PRAGMA synchronous=NORMAL;";
            await pragma.ExecuteNonQueryAsync(ct);
        }

        _connection = connection;
        return connection;
    }

    private static string BuildRollupUpsert()
    {
        var columns = new StringBuilder("tenant_id, bucket_start, method, endpoint, status_code, outcome, count, latency_sum_micros");
        var values = new StringBuilder("$p0, $p1, $p2, $p3, $p4, $p5, $p6, $p7");
        var updates = new StringBuilder("count = count + excluded.count, latency_sum_micros = latency_sum_micros + excluded.latency_sum_micros");
        for (var b = 0; b < LatencyHistogram.BucketCount; b++)
        {
            var column = LatencyHistogram.ColumnNames[b];
            columns.Append(", ").Append(column);
            values.Append(", $p").Append(8 + b);
            updates.Append(", ").Append(column).Append(" = ").Append(column).Append(" + excluded.").Append(column);
        }

        return $"INSERT INTO usage_rollups ({columns}) VALUES ({values}) " +
               $"ON CONFLICT (tenant_id, bucket_start, method, endpoint, status_code, outcome) DO UPDATE SET {updates}";
    }
}
