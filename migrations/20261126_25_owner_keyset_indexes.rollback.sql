create index orders_user_id_idx on public.orders (user_id);
drop index public.orders_user_id_id_idx;
create index entries_user_id_idx on public.entries (user_id);
drop index public.entries_user_id_id_idx;
