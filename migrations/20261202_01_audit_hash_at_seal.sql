-- depends: 20261201_36_log_partition_schema 20261201_36_client_request_id
-- Log rows are hashed when they are sealed, not when they are written; the database fills their
-- transaction id and role itself.
--
-- Why: a row's own hash taken at insert protected nothing that hashing it at seal time does not. Until a
-- row is sealed, only someone who can switch the triggers off can change it, and they can recompute its
-- hash just as well; once sealed, its block holds the hash either way. Taken at insert, the hash was a
-- third of what an audited write cost (bench/audit). audit.seal() now hashes the rows it seals, in one
-- statement, and keeps each row's hash in audit.row_hashes, so verify() still names the first row whose
-- content no longer matches. Rows written before this migration keep the hash in their own row_hash
-- column, which seal() and verify() still read: every block sealed before it verifies as it did.
--
-- The stamping trigger that filled txid, db_role and the request context goes too. txid and db_role are
-- column defaults from now on; a BEFORE trigger that fires only when a row names another transaction or
-- role (or brings a hash) refuses the row, so nobody who may insert can forge them (sql/40_audit.sql).

create table audit.row_hashes (
    log_table text  not null check (log_table in ('logs', 'order_logs', 'key_logs')),
    id        bigint not null,
    row_hash  bytea  not null,
    primary key (log_table, id)
);
comment on table audit.row_hashes is
    'The SHA-256 of each log row sealed since migration 20261202_01, written by audit.seal() (audit.row_hash '
    'of the row as sealed); the seal block''s rows_hash covers them. Rows written before it carry theirs in '
    'their own row_hash column. Append-only.';

alter table public.logs alter column txid set default pg_catalog.pg_current_xact_id();
alter table public.order_logs alter column txid set default pg_catalog.pg_current_xact_id();
alter table public.key_logs alter column txid set default pg_catalog.pg_current_xact_id();
-- audit.session_role(), written out: a default is evaluated on every insert, and that function has a SET clause.
alter table public.logs alter column db_role set default
    case pg_catalog.current_setting('role') when 'none' then session_user::text else pg_catalog.current_setting('role') end;
alter table public.order_logs alter column db_role set default
    case pg_catalog.current_setting('role') when 'none' then session_user::text else pg_catalog.current_setting('role') end;
alter table public.key_logs alter column db_role set default
    case pg_catalog.current_setting('role') when 'none' then session_user::text else pg_catalog.current_setting('role') end;

comment on column public.logs.row_hash is
    'SHA-256 of the row, for rows written before migration 20261202_01 (set at insert); later rows are '
    'hashed when sealed, into audit.row_hashes. Checked by audit.verify().';
comment on column public.order_logs.row_hash is
    'SHA-256 of the row, for rows written before migration 20261202_01 (set at insert); later rows are '
    'hashed when sealed, into audit.row_hashes. Checked by audit.verify().';
comment on column public.key_logs.row_hash is
    'SHA-256 of the row, for rows written before migration 20261202_01 (set at insert); later rows are '
    'hashed when sealed, into audit.row_hashes. Checked by audit.verify().';
