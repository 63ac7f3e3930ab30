-- Keys: say who did what in key_logs. The key functions fill these columns from the request context
-- (an API admin) or the database session (a DBA running `strongroom keys ...`). The names and types are
-- the audit area's, which adds the same actor columns to every log table: "if not exists", so either
-- migration may run first.

alter table public.key_logs
    add column if not exists actor_id integer,
    add column if not exists db_role text,
    add column if not exists request_id text;

create index if not exists key_logs_key_id_idx on public.key_logs (key_id);

comment on column public.key_logs.actor_id is 'The Strongroom user (an admin) who acted; null for a DBA''s own session.';
comment on column public.key_logs.db_role is 'The database role of the session that ran the key function.';
comment on column public.key_logs.request_id is 'The API request that caused the event, if any.';
comment on column public.key_logs.details is
    'What happened, as JSON text (counts, labels, batch progress). Never key material.';
