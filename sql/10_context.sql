-- The request context: who is calling, in this transaction only.
--
-- The API calls api.begin_request(...) first in every transaction; it stores the caller in
-- transaction-local settings (set_config(..., true)), so nothing survives COMMIT on a pooled connection.
-- Every api function reads the caller through these getters, never from an argument.

create or replace function private.caller_id() returns int
language sql stable parallel safe
set search_path = ''
as $$ select nullif(pg_catalog.current_setting('strongroom.user_id', true), '')::int $$;
comment on function private.caller_id() is 'The calling user''s id, or null outside a request.';

create or replace function private.caller_role() returns text
language sql stable parallel safe
set search_path = ''
as $$ select nullif(pg_catalog.current_setting('strongroom.role', true), '') $$;
comment on function private.caller_role() is 'The calling user''s role (user, admin, auditor), or null outside a request.';

create or replace function private.require_caller() returns int
language plpgsql stable
set search_path = ''
as $$
begin
    if private.caller_id() is null then
        raise exception 'no caller in this transaction' using errcode = 'SRA01',
            hint = 'Call api.begin_request first.';
    end if;
    return private.caller_id();
end
$$;
comment on function private.require_caller() is 'The caller''s id, or SRA01 when the transaction has none.';

create or replace function private.request_id() returns text
language sql stable parallel safe
set search_path = ''
as $$ select nullif(pg_catalog.current_setting('strongroom.request_id', true), '') $$;
comment on function private.request_id() is 'The request id that joins HTTP logs, audit rows and error reports.';

create or replace function private.client_addr() returns inet
language sql stable parallel safe
set search_path = ''
as $$ select nullif(pg_catalog.current_setting('strongroom.client_addr', true), '')::inet $$;
comment on function private.client_addr() is 'The client''s address as the API saw it, or null.';

create or replace function private.master_key() returns text
language plpgsql stable
set search_path = ''
as $$
declare
    v_key text := nullif(pg_catalog.current_setting('strongroom.master_key', true), '');
begin
    if v_key is null then
        raise exception 'the master key is not available in this transaction'
            using errcode = 'SRK01',
                  hint = 'The API sets strongroom.master_key per transaction; from psql use the strongroom command line.';
    end if;
    return v_key;
end
$$;
comment on function private.master_key() is 'The master key, set by the API for this transaction only; never stored.';

insert into private.error_codes (sqlstate, name, http_status, description) values
    ('SRK01', 'master_key_missing', 503, 'The server did not pass the master key for this transaction.')
on conflict (sqlstate) do update
    set name = excluded.name, http_status = excluded.http_status, description = excluded.description;

-- Accounts: the token version getter and the one entry point that starts a request ------------------

create or replace function private.caller_token_version() returns int
language sql stable parallel safe
set search_path = ''
as $$ select nullif(pg_catalog.current_setting('strongroom.token_version', true), '')::int $$;
comment on function private.caller_token_version() is 'The token version the caller presented, or null outside a request.';

-- Runs as the owner because the authenticator may not read public.users; begin_request has set the
-- caller's id first, so row-level security shows this function the caller's row and nothing else.
drop function if exists private.verify_caller();
create function private.verify_caller() returns void
language plpgsql stable
security definer  -- the authenticator may not read public.users
set search_path = ''
as $$
declare
    v_user public.users;
begin
    select * into v_user from public.users where id = private.caller_id();
    if v_user.id is null then
        raise exception 'the token names no existing user' using errcode = 'SRA04';
    end if;
    if v_user.is_active is not true then
        raise exception 'the account is disabled' using errcode = 'SRA03';
    end if;
    -- Any other version is refused: older ones were revoked, newer ones were never issued.
    if v_user.token_version is distinct from private.caller_token_version() then
        raise exception 'the token has been revoked' using errcode = 'SRA02',
            hint = 'Log in again to get a new token.';
    end if;
    if v_user.role is distinct from private.caller_role() then
        raise exception 'the token''s role is not the account''s role' using errcode = 'SRA05',
            hint = 'Log in again to get a new token.';
    end if;
end
$$;
comment on function private.verify_caller() is
    'Refuse the transaction''s caller if the user is gone, disabled, or presents another token version or role.';

drop function if exists api.begin_request(int, text, int, text, inet);
create function api.begin_request(
    p_user_id int,
    p_role text,
    p_token_version int,
    p_request_id text default null,
    p_client_addr inet default null
) returns void
language plpgsql
-- Security invoker on purpose: PostgreSQL refuses SET ROLE inside a security definer function, and the
-- switch must outlive this call (set_config(..., true) lasts until the end of the transaction).
set search_path = ''
as $$
begin
    -- Read directly: the authenticator may run nothing in private but verify_caller.
    if nullif(pg_catalog.current_setting('strongroom.user_id', true), '') is not null then
        raise exception 'this transaction already has a caller' using errcode = 'SRA06',
            hint = 'Call api.begin_request once, first in each transaction.';
    end if;
    if p_user_id is null or p_role is null or p_token_version is null then
        raise exception 'a request needs a user id, a role and a token version' using errcode = 'SRA01';
    end if;
    -- private.roles(), written out: the authenticator may run nothing in private (tests/test_rules.py pins it).
    if p_role not in ('user', 'admin', 'auditor') then
        raise exception 'unknown role %', p_role using errcode = 'SRA05';
    end if;
    if length(p_request_id) > 200 then
        raise exception 'the request id is longer than 200 characters' using errcode = 'SRP18';
    end if;
    perform pg_catalog.set_config('strongroom.user_id', p_user_id::text, true),
            pg_catalog.set_config('strongroom.role', p_role, true),
            pg_catalog.set_config('strongroom.token_version', p_token_version::text, true),
            pg_catalog.set_config('strongroom.request_id', coalesce(p_request_id, ''), true),
            pg_catalog.set_config('strongroom.client_addr', coalesce(pg_catalog.host(p_client_addr), ''), true);
    perform private.verify_caller();
    perform pg_catalog.set_config('role', 'strongroom_' || p_role, true);
end
$$;
comment on function api.begin_request(int, text, int, text, inet) is
    'First call of every API transaction: checks the token''s claims against the account (SRA02 revoked, SRA03 '
    'disabled, SRA04 unknown, SRA05 role), then stores the caller in transaction-local settings and switches to '
    'strongroom_<role>. Nothing of it survives COMMIT or ROLLBACK.';
