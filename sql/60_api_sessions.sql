-- API support: the error table as the API reads it, refresh-token sessions, idempotency keys.
--
-- Sessions: a login opens a family of refresh tokens (api.open_session); each refresh uses its token once
-- and issues the next (api.refresh_session); a token presented twice revokes its family; a token issued
-- before a logout everywhere, a password change or a role change (the user's token version moved) is
-- refused. Only SHA-256 hashes of the tokens' random ids are stored.
--
-- Idempotency: api.claim_idempotency_key runs first in the transaction of a creating POST and
-- api.save_idempotent_response last, so the key and the write commit together or not at all.

insert into private.error_codes (sqlstate, name, http_status, description) values
    ('SRA40', 'session_refused', 401, 'The refresh token is unknown, expired, revoked or was already used: log in again.'),
    ('SRP40', 'idempotency_key_reused', 422, 'This Idempotency-Key was used with another request body.'),
    ('SRP41', 'idempotency_key_invalid', 422, 'An Idempotency-Key has 1 to 255 visible ASCII characters.'),
    ('SRC40', 'idempotency_in_flight', 409, 'A request with this Idempotency-Key is still being processed: retry shortly.')
on conflict (sqlstate) do update
    set name = excluded.name, http_status = excluded.http_status, description = excluded.description;

-- The error table, for the API's SQLSTATE → HTTP map ---------------------------------------------------

create or replace function api.error_codes() returns table (sqlstate text, name text, http_status int)
language sql stable
security definer  -- the authenticator may read what our codes mean, not the private schema
set search_path = ''
as $$ select e.sqlstate, e.name, e.http_status from private.error_codes e order by e.sqlstate $$;
comment on function api.error_codes() is 'Our SQLSTATEs with their names and HTTP statuses; the API loads them at start-up.';

-- Sessions ------------------------------------------------------------------------------------------

-- The account a session belongs to. Row-level security on public.users is forced and shows a row only to
-- its own caller, and sessions are opened and refreshed before there is one: this names the user as the
-- request context's subject for the one read (sql/91_policies.sql), then clears it.
-- Out parameters rather than public.users: a function returning the table's type would tie the table to
-- this file (a migration rollback could not drop it).
drop function if exists private.session_account(int);
create function private.session_account(
    p_user_id int,
    out user_id int,
    out active boolean,
    out token_version int,
    out role text
)
language plpgsql
set search_path = ''
as $$
begin
    perform private.set_subject(p_user_id, null);
    select u.id, coalesce(u.is_active, false), u.token_version, u.role
      into user_id, active, token_version, role
      from public.users u where u.id = p_user_id;
    perform private.set_subject(null, null);
end
$$;
comment on function private.session_account(int) is
    'The user row of a session being opened or refreshed (before any caller exists); null if there is none.';

-- Called by the API (as the authenticator) in the transaction of a successful api.login, with the
-- user and token version that login returned: it opens a session only for the user that login
-- authenticated in this transaction (or the caller, from api.open_own_session), never for a disabled
-- account or with a stale version.
create or replace function api.open_session(
    p_user_id int,
    p_token_version int,
    p_token_hash bytea,
    p_ttl interval
) returns uuid
language plpgsql
security definer  -- the authenticator may not write private.refresh_tokens
set search_path = ''
as $$
declare
    v_user record;
    v_family uuid := gen_random_uuid();
begin
    if p_user_id is distinct from coalesce((select c.authenticated_user from private.current_context c),
                                           private.caller_id()) then
        raise exception 'a session is opened only for the user who just logged in' using errcode = 'SRA40';
    end if;
    v_user := private.session_account(p_user_id);
    if v_user.user_id is null or not v_user.active or v_user.token_version is distinct from p_token_version then
        raise exception 'no session can be opened for this account' using errcode = 'SRA40';
    end if;
    if p_ttl <= interval '0' or p_ttl > interval '90 days' then
        raise exception 'a refresh token lives between 1 second and 90 days' using errcode = 'SRP41';
    end if;
    insert into private.refresh_tokens (user_id, family, token_hash, token_version, expires_at)
    values (p_user_id, v_family, p_token_hash, p_token_version, now() + p_ttl);
    return v_family;
end
$$;
comment on function api.open_session(int, int, bytea, interval) is
    'Start a refresh-token family for a user who just logged in (same transaction); returns the family id.';

-- Called after api.change_password in the same transaction: the caller's older tokens were just revoked,
-- and this opens the family of the new pair the API returns. Only ever for the caller.
create or replace function api.open_own_session(p_token_hash bytea, p_ttl interval) returns uuid
language plpgsql
security definer  -- see api.open_session
set search_path = ''
as $$
declare
    v_user record;
begin
    v_user := private.session_account(private.require_caller());
    return api.open_session(v_user.user_id, v_user.token_version, p_token_hash, p_ttl);
end
$$;
comment on function api.open_own_session(bytea, interval) is
    'Start a refresh-token family for the caller at their current token version (after a password change).';

create or replace function private.revoke_family(p_family uuid) returns void
language sql
set search_path = ''
as $$
    update private.refresh_tokens set revoked_at = now() where family = p_family and revoked_at is null;
$$;
comment on function private.revoke_family(uuid) is 'Revoke every refresh token of one family.';

-- Returns a status instead of raising, so that revoking a family on reuse commits with its audit row.
drop function if exists api.refresh_session(bytea, bytea, interval);
create function api.refresh_session(
    p_token_hash bytea,
    p_new_hash bytea,
    p_ttl interval
) returns table (status text, user_id int, role text, token_version int, session_id uuid)
language plpgsql
security definer  -- the authenticator presents a refresh token; it may not read the table behind it
set search_path = ''
as $$
declare
    v_token private.refresh_tokens;
    v_user record;
begin
    select * into v_token from private.refresh_tokens r where r.token_hash = p_token_hash for update;
    if v_token.id is null then
        return query select 'invalid'::text, null::int, null::text, null::int, null::uuid;
        return;
    end if;
    if v_token.revoked_at is not null then
        return query select 'revoked'::text, v_token.user_id, null::text, null::int, null::uuid;
        return;
    end if;
    if v_token.used_at is not null then
        perform private.revoke_family(v_token.family);
        perform private.log_event('WARNING', 'auth', 'refresh_token_reused',
            'a used refresh token was presented again; its session was revoked', null, v_token.user_id);
        return query select 'reused'::text, v_token.user_id, null::text, null::int, null::uuid;
        return;
    end if;
    if v_token.expires_at <= now() then
        return query select 'expired'::text, v_token.user_id, null::text, null::int, null::uuid;
        return;
    end if;
    v_user := private.session_account(v_token.user_id);
    if not v_user.active or v_user.token_version is distinct from v_token.token_version then
        perform private.revoke_family(v_token.family);
        return query select 'revoked'::text, v_token.user_id, null::text, null::int, null::uuid;
        return;
    end if;
    update private.refresh_tokens set used_at = now() where id = v_token.id;
    insert into private.refresh_tokens (user_id, family, token_hash, token_version, expires_at)
    values (v_token.user_id, v_token.family, p_new_hash, v_token.token_version, least(now() + p_ttl, now() + interval '90 days'));
    return query select 'ok'::text, v_user.user_id, v_user.role, v_user.token_version, v_token.family;
end
$$;
comment on function api.refresh_session(bytea, bytea, interval) is
    'Exchange a refresh token (its hash) for the next one in its family: ok, invalid, expired, revoked, or '
    'reused (a second use revokes the family and logs it). Returns the user''s current role and token version, and '
    'the session (family) id its access tokens carry.';

create or replace function api.end_session(p_token_hash bytea) returns boolean
language plpgsql
security definer  -- a caller may revoke only their own family, which this function checks
set search_path = ''
as $$
declare
    v_family uuid;
begin
    perform private.require_caller();
    if p_token_hash is not null then
        select family into v_family from private.refresh_tokens
         where token_hash = p_token_hash and user_id = private.caller_id();
    end if;
    if v_family is not null then
        perform private.revoke_family(v_family);
    end if;
    -- Every logout is a security event, whether or not it named a session the caller holds.
    perform private.log_event('INFO', 'auth', 'logout',
        case when v_family is not null then 'logged out; the session''s refresh tokens are revoked'
             when p_token_hash is null then 'logged out without a refresh token: nothing to revoke'
             else 'logged out; the refresh token given is not one of the caller''s sessions' end,
        pg_catalog.jsonb_build_object('session_revoked', v_family is not null));
    return v_family is not null;
end
$$;
comment on function api.end_session(bytea) is
    'Logout: revoke the caller''s refresh-token family that this token belongs to (null: none given) and '
    'log a logout event; false if nothing of the caller''s was revoked.';

-- Idempotency keys --------------------------------------------------------------------------------

create or replace function api.claim_idempotency_key(
    p_key text,
    p_request_hash bytea,
    p_ttl interval
) returns table (state text, status int, response jsonb)
language plpgsql
security definer  -- keys live in private; the caller reaches only their own, by private.caller_id()
set search_path = ''
as $$
declare
    v_user int := private.caller_id();
    v_key private.idempotency_keys;
begin
    if v_user is null then
        raise exception 'no caller in this transaction' using errcode = 'SRA01';
    end if;
    if p_key is null or p_key !~ '^[\x21-\x7e]{1,255}$' then
        raise exception 'an Idempotency-Key has 1 to 255 visible ASCII characters' using errcode = 'SRP41';
    end if;
    -- Held until this transaction ends: a concurrent duplicate is told to retry instead of waiting.
    if not pg_catalog.pg_try_advisory_xact_lock(pg_catalog.hashtextextended(v_user::text || ':' || p_key, 41)) then
        raise exception 'a request with this Idempotency-Key is still being processed' using errcode = 'SRC40',
            hint = 'Retry in a moment to get its answer.';
    end if;
    insert into private.idempotency_keys (user_id, key, request_hash, expires_at)
    values (v_user, p_key, p_request_hash, now() + p_ttl)
    on conflict on constraint idempotency_keys_pkey do nothing;
    if found then
        return query select 'new'::text, null::int, null::jsonb;
        return;
    end if;
    -- A fresh statement, so a duplicate committed while we waited for the lock is visible.
    select * into v_key from private.idempotency_keys i where i.user_id = v_user and i.key = p_key for update;
    if v_key.expires_at <= now() or v_key.response is null then
        update private.idempotency_keys i
           set request_hash = p_request_hash, status = null, response = null, created_at = now(),
               expires_at = now() + p_ttl
         where i.user_id = v_user and i.key = p_key;
        return query select 'new'::text, null::int, null::jsonb;
        return;
    end if;
    if v_key.request_hash <> p_request_hash then
        raise exception 'this Idempotency-Key was used with another request' using errcode = 'SRP40',
            hint = 'Use a new key for a new request.';
    end if;
    return query select 'replay'::text, v_key.status, v_key.response;
end
$$;
comment on function api.claim_idempotency_key(text, bytea, interval) is
    'First call of a creating POST with an Idempotency-Key: new (go on), replay (with the first answer), '
    'SRP40 if the key came with another request, SRC40 while the first is still running.';

create or replace function api.save_idempotent_response(p_key text, p_status int, p_response jsonb) returns void
language sql
security definer  -- see api.claim_idempotency_key
set search_path = ''
as $$
    update private.idempotency_keys
       set status = p_status, response = p_response
     where user_id = private.caller_id() and key = p_key;
$$;
comment on function api.save_idempotent_response(text, int, jsonb) is
    'Last call of a creating POST with an Idempotency-Key: store the answer a retry will get.';

create or replace function api.purge_expired_sessions() returns int
language plpgsql
security definer  -- housekeeping the API runs periodically, without a caller
set search_path = ''
as $$
declare
    v_keys int;
    v_tokens int;
begin
    delete from private.idempotency_keys where expires_at <= now();
    get diagnostics v_keys = row_count;
    delete from private.refresh_tokens where expires_at <= now() - interval '1 day';
    get diagnostics v_tokens = row_count;
    return v_keys + v_tokens;
end
$$;
comment on function api.purge_expired_sessions() is
    'Delete expired idempotency keys and refresh tokens expired for a day; returns how many rows went.';
