alter table public.logs drop column if exists client_request_id;
alter table public.order_logs drop column if exists client_request_id;
alter table public.key_logs drop column if exists client_request_id;
