drop index if exists public.aes_keys_one_active;
alter table public.aes_keys
    drop constraint if exists aes_keys_retired_has_time,
    drop constraint if exists aes_keys_retired_has_no_material,
    drop constraint if exists aes_keys_is_active_matches_state,
    drop constraint if exists aes_keys_state_known,
    drop column if exists retired_at,
    drop column if exists master_check,
    drop column if exists state;
