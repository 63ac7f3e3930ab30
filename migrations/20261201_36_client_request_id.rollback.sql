-- audit.audit_trail (sql/80_dba_queries.sql) shows the column; it and the ready queries returning its rows
-- are re-created by the next migrate.
drop view if exists audit.audit_trail cascade;
alter table public.logs drop column if exists client_request_id;
alter table public.order_logs drop column if exists client_request_id;
alter table public.key_logs drop column if exists client_request_id;
