-- Fills usage_logs with @rows rows of past traffic straight through SQLite, not through requests: the last seven
-- days, spread over every tenant in bursts of 100 requests (so roll-ups hold ~1 row per burst and endpoint, as
-- bursty clients make them), then the matching minute, hour and day roll-ups and this month's quota counters. The index is
-- dropped during the insert and rebuilt after, which is what makes ten million rows take seconds, not minutes.
PRAGMA journal_mode=OFF;
PRAGMA synchronous=OFF;
PRAGMA cache_size=-500000;
BEGIN;
CREATE TEMP TABLE bench_keys AS
SELECT row_number() OVER (ORDER BY t.id) - 1 AS slot, t.id AS tenant_id, (SELECT min(k.id) FROM api_keys k WHERE k.tenant_id = t.id) AS key_id
FROM tenants t;
DROP INDEX ix_usage_logs_tenant_id_timestamp;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < @rows - 1)
INSERT INTO usage_logs (tenant_id, api_key_id, timestamp, method, endpoint, status_code, latency_micros, outcome)
SELECT k.tenant_id, coalesce(k.key_id, 0),
       strftime('%Y-%m-%d %H:%M:%f', julianday('now') - 7 + (n.i * 7.0 / @rows) - 1.0 / 1440),
       CASE WHEN n.i % 10 = 9 THEN 'POST' ELSE 'GET' END,
       CASE n.i % 4 WHEN 0 THEN '/api/v1/users' WHEN 1 THEN '/api/v1/users/{id}' ELSE '/api/v1/ping' END,
       CASE WHEN n.i % 50 = 7 THEN 404 ELSE 200 END,
       100 + (n.i * 7919) % 5000,
       'Admitted'
FROM n JOIN bench_keys k ON k.slot = (n.i / 100) % (SELECT count(*) FROM bench_keys);
CREATE INDEX ix_usage_logs_tenant_id_timestamp ON usage_logs (tenant_id, timestamp);
-- Roll-ups carry counts only: their latency sketches are made by the usage writer, which SQL cannot do (the bench's
-- history pages read the counts; percentiles over these rows are null).
INSERT INTO usage_rollups (tenant_id, bucket_start, method, endpoint, status_code, outcome, count, latency_sum_micros)
SELECT tenant_id, substr(timestamp, 1, 16) || ':00', method, endpoint, status_code, outcome, count(*), sum(latency_micros)
FROM usage_logs
GROUP BY tenant_id, substr(timestamp, 1, 16), method, endpoint, status_code, outcome
ON CONFLICT DO NOTHING;
INSERT INTO usage_rollups_hour (tenant_id, bucket_start, method, endpoint, status_code, outcome, count, latency_sum_micros)
SELECT tenant_id, substr(bucket_start, 1, 13) || ':00:00', method, endpoint, status_code, outcome, sum(count), sum(latency_sum_micros)
FROM usage_rollups
GROUP BY tenant_id, substr(bucket_start, 1, 13), method, endpoint, status_code, outcome
ON CONFLICT DO NOTHING;
INSERT INTO usage_rollups_day (tenant_id, bucket_start, method, endpoint, status_code, outcome, count, latency_sum_micros)
SELECT tenant_id, substr(bucket_start, 1, 10) || ' 00:00:00', method, endpoint, status_code, outcome, sum(count), sum(latency_sum_micros)
FROM usage_rollups
GROUP BY tenant_id, substr(bucket_start, 1, 10), method, endpoint, status_code, outcome
ON CONFLICT DO NOTHING;
INSERT INTO quota_counters (tenant_id, period, period_start, used)
SELECT tenant_id, 'Month', strftime('%Y-%m-01 00:00:00', 'now'), count(*)
FROM usage_logs
WHERE timestamp >= strftime('%Y-%m-01 00:00:00', 'now') AND outcome = 'Admitted'
GROUP BY tenant_id
ON CONFLICT (tenant_id, period, period_start) DO UPDATE SET used = excluded.used;
COMMIT;
PRAGMA journal_mode=WAL;
