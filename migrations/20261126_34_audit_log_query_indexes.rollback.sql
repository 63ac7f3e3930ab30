drop index if exists public.order_logs_request_id;
drop index if exists public.order_logs_actor_id;
drop index if exists public.key_logs_request_id;
drop index if exists public.key_logs_actor_id;
