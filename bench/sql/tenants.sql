-- Adds tenants (with one key each) until there are @tenants, all on the plan 'Bench'. Run by bench/run with
-- `.parameter set @tenants N` on a stopped server's database.
PRAGMA journal_mode=OFF;
PRAGMA synchronous=OFF;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT (SELECT count(*) FROM tenants) + 1 UNION ALL SELECT i + 1 FROM n WHERE i < @tenants)
INSERT INTO tenants (name, plan_id, status, created_at)
SELECT printf('Tenant %04d', i), (SELECT id FROM plans WHERE name = 'Bench'), 'Active', strftime('%Y-%m-%d %H:%M:%f', 'now')
FROM n;
INSERT INTO api_keys (tenant_id, name, hash, start, created_at)
SELECT t.id, 'bench', randomblob(32), 'tg_bench', strftime('%Y-%m-%d %H:%M:%f', 'now')
FROM tenants t WHERE NOT EXISTS (SELECT 1 FROM api_keys k WHERE k.tenant_id = t.id);
COMMIT;
PRAGMA journal_mode=WAL;
