-- depends: 20261126_32_audit_seal_blocks
-- logs.actor_id is indexed only where it says something user_id does not.
--
-- Why: every log row pays one index insertion per index, and on every audited write the log row is the
-- audit's cost (bench/audit). A row change made through the API has user_id = actor_id (both the caller);
-- a change made directly in the database has neither. The full (actor_id, logged_at) index duplicated
-- logs_user_id for all of those rows. Partial, it keeps the rows where the actor differs from the user the
-- event is about: security events about another account (failed logins, admin actions), API calls
-- (actor set, no user). "Everything user N did or was the subject of" becomes
--     user_id = N  or  (actor_id = N and actor_id is distinct from user_id)
-- (audit.user_activity, api.log_client_event's rate limit), served by logs_user_id and this index;
-- the time-range questions are served by the BRIN on logged_at as before.
drop index public.logs_actor_id;
create index logs_actor_id on public.logs (actor_id, logged_at) where actor_id is distinct from user_id;
