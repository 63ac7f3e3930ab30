-- Every REVOKE and GRANT, so privileges read in one sitting. One section per area.

-- Foundation ---------------------------------------------------------------------------------------
revoke all on schema api, private, audit from public;
revoke all on all tables in schema public from public;
revoke all on all tables in schema private from public;
revoke execute on all functions in schema api, private, audit from public;

-- Caller roles reach the api schema; what they may call in it is granted per function below.
grant usage on schema api to strongroom_user, strongroom_admin, strongroom_auditor;
grant usage on schema api to strongroom_authenticator;
grant execute on function api.installed_code() to strongroom_authenticator;

-- API support (sql/60_api_sessions.sql) ------------------------------------------------------------
-- The authenticator, before any caller is known: the error table, opening and refreshing sessions
-- (login and refresh present their own credentials), and housekeeping.
grant execute on function api.error_codes() to strongroom_authenticator;
grant execute on function api.open_session(int, int, bytea, interval) to strongroom_authenticator;
grant execute on function api.refresh_session(bytea, bytea, interval) to strongroom_authenticator;
grant execute on function api.purge_expired_sessions() to strongroom_authenticator;
-- Callers: their own sessions and idempotency keys (the functions check private.caller_id()).
grant execute on function api.end_session(bytea) to strongroom_user, strongroom_admin, strongroom_auditor;
grant execute on function api.open_own_session(bytea, interval) to strongroom_user, strongroom_admin, strongroom_auditor;
grant execute on function api.claim_idempotency_key(text, bytea, interval)
    to strongroom_user, strongroom_admin, strongroom_auditor;
grant execute on function api.save_idempotent_response(text, int, jsonb)
    to strongroom_user, strongroom_admin, strongroom_auditor;
grant execute on function api.order_history(integer) to strongroom_user, strongroom_admin;
