-- depends: 20261126_03_code_registry
-- The audit trail's columns on the seed's three log tables (the seed's own columns stay as they are).
--
-- With them one log row answers "who did what, to which row, when, from where, inside which transaction"
-- on its own, and carries its own SHA-256 for tamper evidence (sql/40_audit.sql).
-- Every added column is nullable without a default on purpose: audit.row_hash() leaves null columns out
-- of the encoding, so a later migration may add another nullable log column without changing the hash
-- of any row already written. txid, db_role and row_hash are set by the log tables' insert trigger,
-- never by the code that writes the row. "if not exists": the keys area adds db_role and request_id to
-- key_logs as well, and either migration may run first.

alter table public.logs
    add column if not exists action       text,
    add column if not exists table_name   text,
    add column if not exists row_id       bigint,
    add column if not exists before_image jsonb,
    add column if not exists after_image  jsonb,
    add column if not exists details      jsonb,
    add column if not exists actor_id     integer,
    add column if not exists db_role      text,
    add column if not exists request_id   text,
    add column if not exists client_addr  inet,
    add column if not exists txid         xid8,
    add column if not exists row_hash     bytea;

alter table public.order_logs
    add column if not exists actor_id     integer,
    add column if not exists db_role      text,
    add column if not exists request_id   text,
    add column if not exists client_addr  inet,
    add column if not exists txid         xid8,
    add column if not exists row_hash     bytea;

alter table public.key_logs
    add column if not exists actor_id     integer,
    add column if not exists db_role      text,
    add column if not exists request_id   text,
    add column if not exists client_addr  inet,
    add column if not exists txid         xid8,
    add column if not exists row_hash     bytea;

comment on column public.logs.action is 'What happened: insert/update/delete for row changes, else the event (login_failed, access_refused, client_event, api_call, ...).';
comment on column public.logs.table_name is 'For row changes: the audited table.';
comment on column public.logs.row_id is 'For row changes: the id of the changed row.';
comment on column public.logs.before_image is 'For updates and deletes: the row before, secrets replaced by "[redacted]".';
comment on column public.logs.after_image is 'For inserts and updates: the row after, secrets replaced by "[redacted]".';
comment on column public.logs.details is 'Event details; for updates {"changed": [columns]}, redacted ones included.';
comment on column public.logs.user_id is 'The user the event is about, else the acting user (the seed''s column).';
do $$
declare
    t text;
begin
    foreach t in array array['logs', 'order_logs', 'key_logs'] loop
        execute format($c$comment on column public.%I.actor_id is 'The authenticated caller (strongroom.user_id) when the row was written; null for a DBA''s own session.'$c$, t);
        execute format($c$comment on column public.%I.db_role is 'The database role the session acted as (the API''s caller role, or a DBA''s login role).'$c$, t);
        execute format($c$comment on column public.%I.request_id is 'The API request that wrote the row: joins HTTP logs and every row one request wrote.'$c$, t);
        execute format($c$comment on column public.%I.client_addr is 'The client''s address as the API saw it, else the database connection''s.'$c$, t);
        execute format($c$comment on column public.%I.txid is 'The writing transaction''s id: audit.seal() seals rows by it, since rows commit out of id order.'$c$, t);
        execute format($c$comment on column public.%I.row_hash is 'SHA-256 of the row''s canonical encoding, set at insert (audit.row_hash); checked by audit.verify().'$c$, t);
    end loop;
end
$$;
