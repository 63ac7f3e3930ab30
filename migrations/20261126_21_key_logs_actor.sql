-- Keys: say who did what in key_logs. The key procedures fill these columns from the request context
-- (an API admin) or the database session (a DBA running `strongroom keys ...`). "if not exists"
-- because the audit area may add the same actor columns to every log table.

alter table public.key_logs
    add column if not exists user_id integer references public.users (id),
    add column if not exists db_role text,
    add column if not exists request_id text;

create index if not exists key_logs_key_id_idx on public.key_logs (key_id);

comment on column public.key_logs.user_id is 'The Strongroom user (an admin) who acted, null for a DBA session.';
comment on column public.key_logs.db_role is 'The database session user that ran the key procedure.';
comment on column public.key_logs.request_id is 'The API request that caused the event, if any.';
comment on column public.key_logs.details is
    'What happened, as JSON text (counts, labels, batch progress). Never key material.';
