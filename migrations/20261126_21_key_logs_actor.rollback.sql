drop index if exists public.key_logs_key_id_idx;
alter table public.key_logs
    drop column if exists request_id,
    drop column if exists db_role,
    drop column if exists actor_id;
