drop table if exists public.logs;
drop table if exists public.order_logs;
drop table if exists public.orders;
drop table if exists public.entries;
drop table if exists public.key_logs;
drop table if exists public.aes_keys;
drop table if exists public.users;
