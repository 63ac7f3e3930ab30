drop index public.logs_user_id;
create index logs_user_id on public.logs (user_id, logged_at);
drop index public.logs_actor_id;
create index logs_actor_id on public.logs (actor_id, logged_at) where actor_id is distinct from user_id;
create index vault_user_id_idx on public.vault (user_id);
drop index public.vault_user_id_id_idx;
