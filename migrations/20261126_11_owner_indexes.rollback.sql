drop index public.orders_user_id_idx;
drop index public.entries_user_id_idx;
