-- depends: 20261126_24_vault 20261126_11_owner_indexes
-- Keyset paging by owner: api.list_orders and api.list_entries read one user's rows newest first
-- (`where user_id = $1 and id < $2 order by id desc limit $3`). An index on (user_id, id) answers that
-- by reading only the page, whatever the user's and the other users' row counts; on (user_id) alone the
-- planner had to choose between walking the primary key past other users' newer rows and sorting all of
-- the user's rows. Each replaces the (user_id) index, which it also serves: no extra cost per insert.
create index orders_user_id_id_idx on public.orders (user_id, id);
drop index public.orders_user_id_idx;
create index entries_user_id_id_idx on public.entries (user_id, id);
drop index public.entries_user_id_idx;
