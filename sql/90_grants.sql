-- Every REVOKE and GRANT, so privileges read in one sitting. One section per area.

-- Foundation ---------------------------------------------------------------------------------------
revoke all on schema api, private, audit, request from public;
revoke all on all tables in schema public from public;
revoke all on all tables in schema private from public;
revoke execute on all functions in schema api, private, audit from public;

-- Caller roles reach the api schema; what they may call in it is granted per function below.
grant usage on schema api to strongroom_user, strongroom_admin, strongroom_auditor;
grant usage on schema api to strongroom_authenticator;
grant execute on function api.installed_code() to strongroom_authenticator;
-- Readiness and `strongroom serve` check the API's master key against the active data key (53_api_keys.sql).
grant execute on function api.master_key_matches(text) to strongroom_authenticator;

-- The request context (sql/10_context.sql) ----------------------------------------------------------
-- The authenticator starts a request: with a caller (begin_request switches to the caller's role, then
-- runs open_request in it) or without one (register, login, refresh). The caller roles read their own
-- context through the getters, which the policies (91_policies.sql) call in their name; the table behind
-- it is granted to no one. open_request refuses every call but the first in a transaction.
grant execute on function api.begin_request(int, text, int, text, inet, uuid, text) to strongroom_authenticator;
grant execute on function api.begin_anonymous_request(text, inet, text) to strongroom_authenticator;
-- The same in one statement: request.<name> begins the request, then calls api.<name> in the caller's role
-- (sql/92_request.sql makes one per api function a caller role may execute below, and grants them to the
-- authenticator alone: each runs nothing before begin_request has accepted the caller).
grant usage on schema request to strongroom_authenticator;
grant usage on schema private to strongroom_authenticator, strongroom_user, strongroom_admin, strongroom_auditor;
grant execute on function private.open_request(int, text, int, uuid, text, text, inet)
    to strongroom_user, strongroom_admin, strongroom_auditor;
grant select on private.current_context
    to strongroom_authenticator, strongroom_user, strongroom_admin, strongroom_auditor;
grant execute on function private.caller_id(), private.caller_role(), private.subject_id(), private.subject_name(),
    private.acting_as(text)
    to strongroom_authenticator, strongroom_user, strongroom_admin, strongroom_auditor;

-- Accounts -----------------------------------------------------------------------------------------
-- The authenticator: register and log in, the two calls made before there is a caller.
grant execute on function api.register(text, text, text, text) to strongroom_authenticator;
grant execute on function api.login(text, text, text, inet, text, bytea, bytea, bytea, interval)
    to strongroom_authenticator;

-- Every caller, about their own account.
grant execute on function api.me() to strongroom_user, strongroom_admin, strongroom_auditor;
grant execute on function api.change_password(text, text, text, bytea, bytea, interval)
    to strongroom_user, strongroom_admin, strongroom_auditor;
grant execute on function api.logout_everywhere() to strongroom_user, strongroom_admin, strongroom_auditor;

-- Administrators, about everyone's (the functions check the caller's role again).
grant execute on function api.list_users() to strongroom_admin;
grant execute on function api.disable_user(int) to strongroom_admin;
grant execute on function api.enable_user(int) to strongroom_admin;
grant execute on function api.unlock_user(int) to strongroom_admin;
grant execute on function api.set_role(int, text) to strongroom_admin;

-- Direct reads of the user-owned tables, for callers whose sessions query them: row-level security
-- (20_auth.sql) shows each user their own rows and admins all. Writes go through api functions.
grant select on public.entries, public.orders to strongroom_user, strongroom_admin;

-- Keys and encrypted data (orders, entries, vault, key management) ---------------------------------
-- The caller roles reach the encrypted data only through the security definer functions below; aes_keys,
-- key_logs and vault are granted to no runtime role. Key management is admin-only.
revoke all on public.aes_keys, public.key_logs, public.vault from public;

grant execute on function
    api.create_entry(text, text), api.list_entries(integer, integer), api.get_entry(integer),
    api.update_entry(integer, text, text), api.delete_entry(integer),
    api.create_order(text, boolean, text), api.order_statuses(), api.list_orders(text, integer, integer), api.get_order(integer),
    api.set_order_status(integer, text),
    api.save_vault_item(text, text, text, text), api.list_vault_sites(integer, integer), api.lookup_vault(text),
    api.delete_vault_item(integer),
    api.generate_password(integer, boolean, boolean, boolean, boolean, boolean)
to strongroom_user, strongroom_admin;

grant execute on function
    api.key_status(), api.rotate_key(), api.reencrypt_batch(integer, boolean, boolean), api.retire_key(integer),
    api.rewrap_master()
to strongroom_admin;

-- Audit (sql/40_audit.sql, 55_api_logs.sql, 80_dba_queries.sql) ----------------------------------
-- The log tables and seal blocks: no runtime role writes them (triggers and SECURITY DEFINER functions
-- do); the auditor reads exactly the log tables, the audit_trail view, the seal blocks (and the row
-- hashes they cover) and verify(), and of users only id and username (for the view's names).
revoke all on public.logs, public.order_logs, public.key_logs, audit.seal_blocks, audit.retired_partitions,
    audit.settings, audit.row_hashes from strongroom_authenticator, strongroom_user, strongroom_admin, strongroom_auditor;
revoke all on schema audit_archive from public;
revoke all on schema log_partitions from public;  -- read the log partitions through their parents
grant usage on schema audit to strongroom_auditor;
grant select on public.logs, public.order_logs, public.key_logs, audit.audit_trail, audit.seal_blocks,
    audit.retired_partitions, audit.row_hashes to strongroom_auditor;
grant select (id, username) on public.users to strongroom_auditor;
grant execute on function audit.verify(), audit.head(), audit.order_history(integer),
    audit.failed_logins(interval), audit.key_events(integer), audit.request_trail(text),
    audit.user_activity(integer, timestamptz, timestamptz), audit.direct_changes(timestamptz),
    audit.refused_access(interval), audit.account_locks(interval) to strongroom_auditor;
-- The API process's background work runs as the authenticator itself, outside any request: sealing
-- every few seconds and recording batches of API calls.
grant usage on schema audit to strongroom_authenticator;
grant execute on function audit.seal(), audit.head() to strongroom_authenticator;
grant usage on schema audit to strongroom_admin;
grant execute on function audit.seal(), audit.head() to strongroom_admin;
grant execute on function api.log_client_event(text, text, text, jsonb),
    api.list_logs(bigint, integer, text, text, text, timestamptz, timestamptz, text, boolean)
    to strongroom_user, strongroom_admin, strongroom_auditor;
grant execute on function audit.record_api_calls(jsonb) to strongroom_authenticator;

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
