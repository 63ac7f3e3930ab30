drop index public.logs_actor_id;
create index logs_actor_id on public.logs (actor_id, logged_at);
