-- Fills the raw log (usage_log_entries, read as usage_logs) with @rows rows of past traffic straight through SQLite, not through requests: the last seven
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
INSERT OR IGNORE INTO usage_endpoints (method, endpoint) VALUES
  ('GET', '/api/v1/users'), ('GET', '/api/v1/users/{id}'), ('GET', '/api/v1/ping'),
  ('POST', '/api/v1/users'), ('POST', '/api/v1/users/{id}'), ('POST', '/api/v1/ping');
-- slot = 4 * (POST) + (0 users, 1 users/{id}, 2 ping), the pattern below.
CREATE TEMP TABLE bench_endpoints AS
SELECT CASE method WHEN 'POST' THEN 4 ELSE 0 END + CASE endpoint WHEN '/api/v1/users' THEN 0 WHEN '/api/v1/users/{id}' THEN 1 ELSE 2 END AS slot, id
FROM usage_endpoints WHERE endpoint IN ('/api/v1/users', '/api/v1/users/{id}', '/api/v1/ping');
DROP INDEX ix_usage_log_entries_tenant_id_time_ms;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < @rows - 1)
INSERT INTO usage_log_entries (tenant_id, api_key_id, time_ms, endpoint_id, status_code, latency_micros, upstream_latency_micros, outcome)
SELECT k.tenant_id, coalesce(k.key_id, 0),
       CAST(round((julianday('now') - 2440587.5 - 7 + (n.i * 7.0 / @rows) - 1.0 / 1440) * 86400000.0) AS INTEGER),
       e.id,
       CASE WHEN n.i % 50 = 7 THEN 404 ELSE 200 END,
       100 + (n.i * 7919) % 5000,
       0,
       0
FROM n JOIN bench_keys k ON k.slot = (n.i / 100) % (SELECT count(*) FROM bench_keys)
JOIN bench_endpoints e ON e.slot = CASE WHEN n.i % 10 = 9 THEN 4 ELSE 0 END + min(n.i % 4, 2);
CREATE INDEX ix_usage_log_entries_tenant_id_time_ms ON usage_log_entries (tenant_id, time_ms);
-- Roll-ups carry counts only: their latency sketches are made by the usage writer, which SQL cannot do (the bench's
-- history pages read the counts; percentiles over these rows are null).
INSERT INTO usage_rollups (tenant_id, bucket_start, method, endpoint, status_code, outcome, count, latency_sum_micros, upstream_latency_sum_micros)
SELECT tenant_id, substr(timestamp, 1, 16) || ':00', method, endpoint, status_code, outcome, count(*), sum(latency_micros), 0
FROM usage_logs
GROUP BY tenant_id, substr(timestamp, 1, 16), method, endpoint, status_code, outcome
ON CONFLICT DO NOTHING;
INSERT INTO usage_rollups_hour (tenant_id, bucket_start, method, endpoint, status_code, outcome, count, latency_sum_micros, upstream_latency_sum_micros)
SELECT tenant_id, substr(bucket_start, 1, 13) || ':00:00', method, endpoint, status_code, outcome, sum(count), sum(latency_sum_micros), 0
FROM usage_rollups
GROUP BY tenant_id, substr(bucket_start, 1, 13), method, endpoint, status_code, outcome
ON CONFLICT DO NOTHING;
INSERT INTO usage_rollups_day (tenant_id, bucket_start, method, endpoint, status_code, outcome, count, latency_sum_micros, upstream_latency_sum_micros)
SELECT tenant_id, substr(bucket_start, 1, 10) || ' 00:00:00', method, endpoint, status_code, outcome, sum(count), sum(latency_sum_micros), 0
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
