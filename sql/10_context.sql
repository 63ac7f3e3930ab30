-- The request context: who is calling, in this transaction only, written where no caller can write.
--
-- The API calls api.begin_request(...) (or api.begin_anonymous_request(...) before there is a caller)
-- first in every transaction. It checks the token's claims against the account and writes the verified
-- caller into private.request_context, a row keyed by the backend and matched on the transaction id,
-- which only the SECURITY DEFINER functions of this file write. Every policy and every api function reads
-- the caller through the private.caller_*() getters below, which read that row and nothing else: a
-- setting changed with set_config, a second begin_request, or a switch to another role (SET ROLE, RESET
-- ROLE) cannot make the transaction another caller. The row is void as soon as the session's role is no
-- longer the one begin_request switched to, so a caller who switches role is nobody at all.

-- Cleared by earlier versions of this file: the caller used to live in settings.
drop function if exists private.verify_caller();

create or replace view private.current_context as
    select c.backend_pid, c.xact_id, c.db_role, c.user_id, c.role, c.token_version, c.session_id, c.request_id,
           c.client_request_id, c.client_addr, c.authenticated_user, c.subject_id, c.subject_name
      from private.request_context c
     where c.backend_pid = pg_catalog.pg_backend_pid()
       and c.xact_id = pg_catalog.pg_current_xact_id_if_assigned()
       and c.db_role = pg_catalog.current_setting('role');
comment on view private.current_context is
    'This transaction''s request context: the one row of this backend written in this transaction while the '
    'session still has the role it had then; no row otherwise. Readable by the caller roles (it shows only '
    'their own context), written by nobody but this file''s security definer functions.';

-- The getters are plain SQL without a SET clause on purpose: a SET clause costs a configuration save and
-- restore per call, and they run several times in every request. That is safe because every name they
-- use is schema-qualified. Policies call them as `(select private.caller_id())`, which PostgreSQL runs
-- once per query (an InitPlan) instead of once per row.
create or replace function private.caller_id() returns int
language sql stable
as $$ select c.user_id from private.current_context c $$;
comment on function private.caller_id() is 'The calling user''s id, or null outside a request. It has no SET clause: it runs in every request.';

create or replace function private.caller_role() returns text
language sql stable
as $$ select c.role from private.current_context c $$;
comment on function private.caller_role() is
    'The calling user''s role (user, admin, auditor) as begin_request verified it, or null outside a request. It has no SET clause: it runs in every request.';

create or replace function private.caller_token_version() returns int
language sql stable
as $$ select c.token_version from private.current_context c $$;
comment on function private.caller_token_version() is 'The token version the caller presented, or null outside a request. It has no SET clause: it runs in every request.';

create or replace function private.caller_session() returns uuid
language sql stable
as $$ select c.session_id from private.current_context c $$;
comment on function private.caller_session() is 'The session (refresh-token family) the caller''s access token belongs to, or null. It has no SET clause: it runs in every request.';

create or replace function private.request_id() returns text
language sql stable
as $$ select c.request_id from private.current_context c $$;
comment on function private.request_id() is 'The request id (made by the server) that joins HTTP logs, audit rows and error reports. It has no SET clause: it runs in every request.';

create or replace function private.client_request_id() returns text
language sql stable
as $$ select c.client_request_id from private.current_context c $$;
comment on function private.client_request_id() is 'The X-Request-Id the client sent, kept beside the server''s own; never trusted. It has no SET clause: it runs in every request.';

create or replace function private.client_addr() returns inet
language sql stable
as $$ select c.client_addr from private.current_context c $$;
comment on function private.client_addr() is 'The client''s address as the API saw it, or null. It has no SET clause: it runs in every request.';

create or replace function private.subject_id() returns int
language sql stable
as $$ select c.subject_id from private.current_context c $$;
comment on function private.subject_id() is
    'The one account a session opening or refresh reads before there is a caller (set by private.session_account). It has no SET clause: it runs in every request.';

create or replace function private.subject_name() returns text
language sql stable
as $$ select c.subject_name from private.current_context c $$;
comment on function private.subject_name() is
    'The one username login or registration reads before there is a caller (set by private.set_auth_subject). It has no SET clause: it runs in every request.';

create or replace function private.require_caller() returns int
language plpgsql stable
set search_path = ''
as $$
declare
    v_user int := private.caller_id();
begin
    if v_user is null then
        raise exception 'no caller in this transaction' using errcode = 'SRA01',
            hint = 'Call api.begin_request first.';
    end if;
    return v_user;
end
$$;
comment on function private.require_caller() is 'The caller''s id, or SRA01 when the transaction has none.';

create or replace function private.require_role(variadic p_roles text[]) returns int
language plpgsql stable
set search_path = ''
as $$
declare
    v_user int := private.require_caller();
begin
    if not private.caller_role() = any (p_roles) then
        raise exception 'this needs the % role', pg_catalog.array_to_string(p_roles, ' or ') using errcode = 'SRF01';
    end if;
    return v_user;
end
$$;
-- Tables a DBA reads through their own login (granted strongroom_auditor) and the API's auditor through
-- begin_request: a session that logged in as the authenticator holds the role only with a verified context.
create or replace function private.acting_as(p_role text) returns boolean
language sql stable
as $$
    select coalesce((select c.role from private.current_context c) = p_role, false)
        or session_user <> 'strongroom_authenticator'
$$;
comment on function private.acting_as(text) is
    'True if begin_request verified this role, or the session is not the API''s (a DBA''s login granted the role). It has no SET clause: it runs in every request.';

comment on function private.require_role(text[]) is
    'The caller''s id if begin_request verified one of these roles; SRA01 without a caller, SRF01 otherwise. '
    'Admin rights come from here, never from role membership alone.';

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
    ('SRK01', 'master_key_missing', 503, 'The server did not pass the master key for this transaction.'),
    ('SRA06', 'request_already_begun', 401, 'This transaction already has a request context; it is set once.'),
    ('SRA07', 'session_ended', 401, 'The access token''s session was logged out or revoked: log in again.')
on conflict (sqlstate) do update
    set name = excluded.name, http_status = excluded.http_status, description = excluded.description;

-- Writing the context: the only statements that touch private.request_context ------------------------

-- Security definer: no runtime role may write the table. Refuses a second context in one transaction,
-- whatever role the session has now (a context made void by a role switch still counts).
drop function if exists private.write_context(int, text, int, uuid, text, text, inet);
create function private.write_context(
    p_user_id int,
    p_role text,
    p_token_version int,
    p_session_id uuid,
    p_request_id text,
    p_client_request_id text,
    p_client_addr inet
) returns void
language plpgsql volatile
security definer  -- no runtime role may write private.request_context
set search_path = ''
as $$
begin
    if length(p_request_id) > 200 or length(p_client_request_id) > 200 then
        raise exception 'a request id is longer than 200 characters' using errcode = 'SRP18';
    end if;
    -- Log injection: the request ids reach log rows as the context holds them (the log tables' column
    -- defaults, the audit trigger), so they are kept in the printable form every writer of a log table
    -- uses (audit.printable, sql/40_audit.sql), the one audit.record_api_calls gives the same ids.
    if p_request_id ~ '[\x01-\x08\x0a-\x1f\x7f-\x9f]' then
        p_request_id := audit.printable(p_request_id);
    end if;
    if p_client_request_id ~ '[\x01-\x08\x0a-\x1f\x7f-\x9f]' then
        p_client_request_id := audit.printable(p_client_request_id);
    end if;
    insert into private.request_context as c (backend_pid, xact_id, db_role, user_id, role, token_version,
                                              session_id, request_id, client_request_id, client_addr)
    values (pg_catalog.pg_backend_pid(), pg_catalog.pg_current_xact_id(), pg_catalog.current_setting('role'),
            p_user_id, p_role, p_token_version, p_session_id,
            p_request_id,
            p_client_request_id, p_client_addr)
    on conflict (backend_pid) do update
       set xact_id = excluded.xact_id, db_role = excluded.db_role, user_id = excluded.user_id,
           role = excluded.role, token_version = excluded.token_version, session_id = excluded.session_id,
           request_id = excluded.request_id, client_request_id = excluded.client_request_id,
           client_addr = excluded.client_addr, authenticated_user = null, subject_id = null,
           subject_name = null, started_at = pg_catalog.now()
     where c.xact_id <> excluded.xact_id;
    if not found then
        raise exception 'this transaction already has a request context' using errcode = 'SRA06',
            hint = 'Call api.begin_request once, first in each transaction.';
    end if;
end
$$;
comment on function private.write_context(int, text, int, uuid, text, text, inet) is
    'Write this transaction''s request context (SRA06 if it has one). Only begin_request and '
    'begin_anonymous_request call it.';

-- Before a security definer function of ours annotates this transaction's context row (login's
-- authenticated user, the one account login or a session opening may read), it makes sure there is one:
-- a transaction without one (a DBA's psql session, the command line) gets an anonymous one. Afterwards
-- the backend's row is this transaction's (write_context refuses to replace it).
drop function if exists private.context_row();
drop function if exists private.ensure_context();
create function private.ensure_context() returns void
language plpgsql volatile
set search_path = ''
as $$
begin
    if not exists (select 1 from private.current_context) then
        perform private.write_context(null, null, null, null, null, null, null);
    end if;
end
$$;
comment on function private.ensure_context() is
    'Write an anonymous request context if this transaction has none, so that it can be annotated.';

drop function if exists api.begin_anonymous_request(text, inet, text);
create function api.begin_anonymous_request(
    p_request_id text,
    p_client_addr inet default null,
    p_client_request_id text default null
) returns void
language sql volatile
security definer  -- writes private.request_context, which the authenticator may not touch
set search_path = ''
as $$ select private.write_context(null, null, null, null, p_request_id, p_client_request_id, p_client_addr) $$;
comment on function api.begin_anonymous_request(text, inet, text) is
    'First call of an API transaction without a caller (register, login, refresh): records the request id, the '
    'client''s own X-Request-Id and address for the audit rows. SRA06 if the transaction has a context.';

-- Login, registration and session opening read the one account they work on before there is a caller:
-- they name it in the context row (row-level security on users honours it) and clear it when done.
drop function if exists private.set_subject(int, text);
create function private.set_subject(p_user_id int, p_username text) returns void
language plpgsql volatile
set search_path = ''
as $$
begin
    perform private.ensure_context();
    update private.request_context set subject_id = p_user_id, subject_name = p_username
     where backend_pid = pg_catalog.pg_backend_pid();
end
$$;
comment on function private.set_subject(int, text) is
    'Let this transaction see the one user row (by id or username) that login, registration or a session opening works on.';

-- Accounts: the one entry point that starts a request with a caller --------------------------------

-- Runs in the caller's role (begin_request switched to it first), so that row-level security on users
-- shows it the caller's row once the context is written. Security definer to write the context; the
-- caller roles may execute it, and it refuses every call but the first of a transaction (SRA06).
drop function if exists private.open_request(int, text, int, uuid, text, text, inet);
create function private.open_request(
    p_user_id int,
    p_role text,
    p_token_version int,
    p_session_id uuid,
    p_request_id text,
    p_client_request_id text,
    p_client_addr inet
) returns void
language plpgsql volatile
security definer  -- writes the context, which no runtime role may write
set search_path = ''
as $$
declare
    v_user record;
begin
    if pg_catalog.current_setting('role') is distinct from 'strongroom_' || p_role then
        raise exception 'a request is opened in the caller''s role' using errcode = 'SRA05';
    end if;
    perform private.write_context(p_user_id, p_role, p_token_version, p_session_id, p_request_id,
                                  p_client_request_id, p_client_addr);
    select x.id, x.is_active, x.token_version, x.role into v_user from public.users x where x.id = p_user_id;
    if v_user.id is null then
        raise exception 'the token names no existing user' using errcode = 'SRA04';
    end if;
    if v_user.is_active is not true then
        raise exception 'the account is disabled' using errcode = 'SRA03';
    end if;
    -- Any other version is refused: older ones were revoked, newer ones were never issued.
    if v_user.token_version is distinct from p_token_version then
        raise exception 'the token has been revoked' using errcode = 'SRA02',
            hint = 'Log in again to get a new token.';
    end if;
    if v_user.role is distinct from p_role then
        raise exception 'the token''s role is not the account''s role' using errcode = 'SRA05',
            hint = 'Log in again to get a new token.';
    end if;
    -- The session the access token came from must still be open: logout and a detected refresh-token
    -- reuse revoke its family, and its access tokens die with it at once.
    if p_session_id is not null and not exists (
        select 1 from private.refresh_tokens t
         where t.family = p_session_id and t.user_id = p_user_id and t.revoked_at is null
    ) then
        raise exception 'the session of this token has ended' using errcode = 'SRA07',
            hint = 'Log in again to get a new token.';
    end if;
end
$$;
comment on function private.open_request(int, text, int, uuid, text, text, inet) is
    'begin_request''s second half, in the caller''s role: write the context, then refuse the caller if the user '
    'is gone (SRA04), disabled (SRA03), presents another token version (SRA02) or role (SRA05), or the session '
    'has ended (SRA07).';

drop function if exists api.begin_request(int, text, int, text, inet);
drop function if exists api.begin_request(int, text, int, text, inet, uuid, text);
create function api.begin_request(
    p_user_id int,
    p_role text,
    p_token_version int,
    p_request_id text default null,
    p_client_addr inet default null,
    p_session_id uuid default null,
    p_client_request_id text default null
) returns void
language plpgsql
-- Security invoker on purpose: PostgreSQL refuses SET ROLE inside a security definer function, and the
-- switch must outlive this call (set_config(..., true) lasts until the end of the transaction).
set search_path = ''
as $$
begin
    if p_user_id is null or p_role is null or p_token_version is null then
        raise exception 'a request needs a user id, a role and a token version' using errcode = 'SRA01';
    end if;
    -- private.roles(), written out: the authenticator may run nothing in private (tests/test_rules.py pins it).
    if p_role not in ('user', 'admin', 'auditor') then
        raise exception 'unknown role %', p_role using errcode = 'SRA05';
    end if;
    if pg_catalog.current_setting('role') <> 'none' then
        raise exception 'this transaction already has a caller' using errcode = 'SRA06',
            hint = 'Call api.begin_request once, first in each transaction.';
    end if;
    perform pg_catalog.set_config('role', 'strongroom_' || p_role, true);
    perform private.open_request(p_user_id, p_role, p_token_version, p_session_id, p_request_id,
                                 p_client_request_id, p_client_addr);
end
$$;
comment on function api.begin_request(int, text, int, text, inet, uuid, text) is
    'First call of every API transaction with a caller: switches to strongroom_<role>, writes the verified '
    'context, and refuses a stale or foreign token (SRA02 revoked, SRA03 disabled, SRA04 unknown, SRA05 role, '
    'SRA06 a second call, SRA07 session ended). Nothing of it survives COMMIT or ROLLBACK.';
