-- pgbench script: the design a team would otherwise pick, a claim done purely in PostgreSQL:
-- a conditional decrement of the stock row and an insert guarded by a unique key, in one
-- transaction. Tables: see ./dev bench (pg_only_stock, pg_only_claims).
\set member random(1, 2000000000)
BEGIN;
UPDATE pg_only_stock SET remaining = remaining - 1 WHERE id = 1 AND remaining > 0;
INSERT INTO pg_only_claims (user_id, code) VALUES (:member, md5(random()::text)) ON CONFLICT DO NOTHING;
COMMIT;
