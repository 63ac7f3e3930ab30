alter table public.logs
    drop column action, drop column table_name, drop column row_id, drop column before_image,
    drop column after_image, drop column details, drop column actor_id, drop column db_role,
    drop column request_id, drop column client_addr, drop column txid, drop column row_hash;
alter table public.order_logs
    drop column actor_id, drop column db_role, drop column request_id, drop column client_addr,
    drop column txid, drop column row_hash;
alter table public.key_logs
    drop column actor_id, drop column db_role, drop column request_id, drop column client_addr,
    drop column txid, drop column row_hash;
