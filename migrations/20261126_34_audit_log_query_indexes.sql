-- depends: 20261126_32_audit_seal_blocks
-- Indexes on order_logs and key_logs for two of the DBA's ready questions (sql/80_dba_queries.sql):
-- "everything one request did" (audit.request_trail) and "what one user did over a period"
-- (audit.user_activity). logs had them from 20261126_31; without these two tables' own, each of those
-- queries read every partition of order_logs and key_logs. Created on the partitioned parents, so
-- every partition, present and future, gets them.

create index order_logs_request_id on public.order_logs (request_id);
create index order_logs_actor_id on public.order_logs (actor_id, logged_at);
create index key_logs_request_id on public.key_logs (request_id);
create index key_logs_actor_id on public.key_logs (actor_id, logged_at);
