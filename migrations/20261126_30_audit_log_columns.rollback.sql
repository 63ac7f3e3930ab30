alter table public.logs
    drop column if exists action, drop column if exists table_name, drop column if exists row_id, drop column if exists before_image,
    drop column if exists after_image, drop column if exists details, drop column if exists actor_id, drop column if exists db_role,
    drop column if exists request_id, drop column if exists client_addr, drop column if exists txid, drop column if exists row_hash;
alter table public.order_logs
    drop column if exists actor_id, drop column if exists db_role, drop column if exists request_id, drop column if exists client_addr,
    drop column if exists txid, drop column if exists row_hash;
alter table public.key_logs
    drop column if exists actor_id, drop column if exists db_role, drop column if exists request_id, drop column if exists client_addr,
    drop column if exists txid, drop column if exists row_hash;
