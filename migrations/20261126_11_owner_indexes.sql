-- depends: 20261126_10_user_accounts
-- Accounts: row-level security filters entries and orders by their owner on every query, so the owner
-- columns are indexed.
create index entries_user_id_idx on public.entries (user_id);
create index orders_user_id_idx on public.orders (user_id);
