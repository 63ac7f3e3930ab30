-- depends: 20261202_01_audit_hash_at_seal
-- Log indexes hold only the rows their questions can ask for.
--
-- Every log row pays one insertion per index (bench/audit), and each of these indexes answers a question
-- that names a value, never null: "everything one request did" (audit.request_trail: request_id = ...),
-- "who changed row N of table T" (audit.order_history, audit.key_events: table_name = ... and row_id = ...),
-- "what user N did" (audit.user_activity: actor_id = ...). Rows without that value (a DBA's change has no
-- request id; security events and API calls name no table; a row written outside a request has no actor)
-- now skip the index. The questions are unchanged: an equality implies the column is not null, so the
-- planner uses the partial index for them, under custom and generic plans alike.
-- key_logs_key_id_idx (key_id) went too: key_logs_key_id (key_id, logged_at) answers everything it did.
-- logs_user_id, logs_actor_id, the primary keys, the txid indexes (audit.seal) and the BRIN indexes on
-- logged_at (time ranges) are left as they are.
drop index public.logs_request_id;
create index logs_request_id on public.logs (request_id) where request_id is not null;
drop index public.logs_table_row;
create index logs_table_row on public.logs (table_name, row_id) where table_name is not null;
drop index public.order_logs_request_id;
create index order_logs_request_id on public.order_logs (request_id) where request_id is not null;
drop index public.key_logs_request_id;
create index key_logs_request_id on public.key_logs (request_id) where request_id is not null;
drop index public.order_logs_actor_id;
create index order_logs_actor_id on public.order_logs (actor_id, logged_at) where actor_id is not null;
drop index public.key_logs_actor_id;
create index key_logs_actor_id on public.key_logs (actor_id, logged_at) where actor_id is not null;
drop index if exists public.key_logs_key_id_idx;
