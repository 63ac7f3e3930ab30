-- The DBA view audit.orders (sql/80_dba_queries.sql) reads these columns: it goes with them (cascade);
-- `strongroom db migrate` puts it back.
drop index if exists public.orders_status_id_idx;
drop index if exists public.orders_description_key_id_idx;
alter table public.orders
    drop constraint if exists orders_description_key_beside_ciphertext,
    drop constraint if exists orders_sensitive_description_not_in_clear,
    drop constraint if exists orders_sensitive_means_encrypted,
    drop constraint if exists orders_status_known,
    drop column if exists updated_at cascade,
    drop column if exists description_key_id,
    drop column if exists description_enc,
    drop column if exists sensitive cascade;
