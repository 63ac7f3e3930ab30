-- The audit trail's columns on the seed's three log tables.
--
-- The seed's columns stay as they are; these are added so one log row answers "who did what, when, from
-- where, inside which transaction" on its own, and carries its own SHA-256 for tamper evidence.
-- Every added column is nullable without a default on purpose: audit.row_hash() skips null columns, so a
-- later migration may add another nullable log column without changing the hash of rows already written.
-- txid and row_hash are filled by the log tables' insert trigger (sql/40_audit.sql), never by callers.
-- depends: 20261126_09_seed_tables

alter table public.logs
    add column action       text,
    add column table_name   text,
    add column row_id       bigint,
    add column before_image jsonb,
    add column after_image  jsonb,
    add column actor_id     integer,
    add column db_role      text,
    add column request_id   text,
    add column client_addr  inet,
    add column txid         xid8,
    add column row_hash     bytea;

alter table public.order_logs
    add column details      jsonb,
    add column actor_id     integer,
    add column db_role      text,
    add column request_id   text,
    add column client_addr  inet,
    add column txid         xid8,
    add column row_hash     bytea;

alter table public.key_logs
    add column details      jsonb,
    add column actor_id     integer,
    add column db_role      text,
    add column request_id   text,
    add column client_addr  inet,
    add column txid         xid8,
    add column row_hash     bytea;
