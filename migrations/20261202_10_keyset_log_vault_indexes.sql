-- depends: 20261201_36_log_partition_schema 20261126_25_owner_keyset_indexes
-- Keyset paging by owner for the log and the vault, as orders and notes have it (20261126_25): a page
-- is one user's rows newest first, `where user_id = $1 and id < $2 order by id desc limit $3`, which an
-- index on (user_id, id) answers by reading only the page, whatever else the table holds.
--
-- logs: the (user_id, logged_at) and (actor_id, logged_at) indexes are replaced, not joined: every
-- index costs every audited write an insertion (bench/audit), so logs keeps the number it had.
--   logs_user_id   (user_id, id): the events about a user, in id order (= the order they were written).
--   logs_actor_id  (actor_id, action is distinct from 'api_call', id), still only where the actor differs
--                  from the user (20261126_33): a user's API-call records (one per request: most of the
--                  log) and their other events as actor are two runs of the index, each in id order, so
--                  the default listing, which leaves the API calls out, never walks through them.
-- What the time order served now reads a time window differently: api.log_client_event's rate limit
-- walks the user's newest events back to the window's start; audit.user_activity reads the user's rows
-- of the months its window touches (the partitions) and keeps those in the window.
--
-- vault: (user_id) becomes (user_id, id) for api.list_vault_sites' pages.
drop index public.logs_user_id;
create index logs_user_id on public.logs (user_id, id);
drop index public.logs_actor_id;
create index logs_actor_id on public.logs (actor_id, (action is distinct from 'api_call'), id)
    where actor_id is distinct from user_id;
create index vault_user_id_id_idx on public.vault (user_id, id);
drop index public.vault_user_id_idx;
