-- Accounts: what clients call about users, once api.begin_request has set the caller.
-- Each function is security definer (the caller roles have no privilege on public.users) and reads the
-- caller from the transaction, never from an argument; row-level security holds it to the caller too.
-- The work itself is done by the private helpers in 20_auth.sql, which DBAs may also call from psql.

-- What a client may see of an account: no hash, nothing else secret.
create or replace view private.user_accounts as
select u.id as user_id, u.username, u.email, u.role, coalesce(u.is_active, false) as is_active,
       u.failed_logins, u.locked_until, u.last_login_at, u.created_at,
       u.failures_since_login >= (select s.lockout_hard_limit from private.auth_settings s) as locked_until_unlocked
from public.users u;
comment on view private.user_accounts is 'The shape of a user account in api results: never the password hash.';
comment on column private.user_accounts.locked_until_unlocked is
    'The account''s shared budget reached the hard limit of consecutive failures: locked until an administrator unlocks it.';

drop function if exists private.require_admin();
create function private.require_admin() returns int
language plpgsql stable
set search_path = ''
as $$
begin
    perform private.require_caller();
    if private.caller_role() is distinct from 'admin' then
        raise exception 'only an administrator may do this' using errcode = 'SRF01';
    end if;
    return private.caller_id();
end
$$;
comment on function private.require_admin() is 'The caller''s id if they are an administrator; SRA01 or SRF01 otherwise.';

-- The caller's own account -------------------------------------------------------------------------

drop function if exists api.me();
create function api.me() returns setof private.user_accounts
language sql stable
security definer  -- the caller roles may not read public.users
set search_path = ''
as $$ select * from private.user_accounts where user_id = private.require_caller() $$;
comment on function api.me() is 'The caller''s own account.';

drop function if exists api.change_password(text, text, text);
drop function if exists api.change_password(text, text, text, bytea, bytea, interval);
create function api.change_password(
    p_current_password text,
    p_new_password text,
    p_pepper text,
    p_device_hash bytea default null,
    p_refresh_hash bytea default null,
    p_refresh_ttl interval default null
)
returns table (status text, token_version int, locked_until timestamptz, session_id uuid)
language plpgsql
security definer  -- updates public.users
set search_path = ''
as $$
declare
    v_me public.users;
    v_checked record;
    v_version int;
    v_session uuid;
begin
    perform private.lock_user_row(private.require_caller());
    select * into strict v_me from public.users where id = private.caller_id();
    -- The current password is checked like a login (the same budgets and lockout, the device's when the
    -- caller presents its device token), and like a login a wrong one is answered with a status, so its
    -- audit row survives. A locked budget is refused before any crypt().
    select * into v_checked from private.authenticate(v_me.username, p_current_password, p_pepper, false, p_device_hash);
    if v_checked.status <> 'ok' then
        return query select v_checked.status, null::int, v_checked.locked_until, null::uuid;
        return;
    end if;
    perform private.check_password_policy(p_new_password, v_me.username);
    update public.users
       set hashed_password = private.hash_password(p_new_password, p_pepper), password_changed_at = now()
     where id = v_me.id;
    perform private.log_event('INFO', 'auth', 'password_changed', 'password changed; every token revoked', null, v_me.id);
    v_version := private.bump_token_version(v_me.id);
    -- Every older token was just revoked: the new pair's session opens in this same transaction.
    if p_refresh_hash is not null then
        v_session := api.open_own_session(p_refresh_hash, p_refresh_ttl);
    end if;
    return query select 'ok'::text, v_version, null::timestamptz, v_session;
end
$$;
comment on function api.change_password(text, text, text, bytea, bytea, interval) is
    'Change the caller''s password and, with p_refresh_hash, open the session of the new token pair. Status ok '
    '(with the new token_version: every older token is refused; session_id, the new session), bad_credentials or locked (the current password '
    'was wrong, counted like a failed login on the device''s budget or the shared one; a locked one costs no '
    'crypt()). Policy errors SRP12-15.';

drop function if exists api.logout_everywhere();
create function api.logout_everywhere() returns int
language plpgsql
security definer  -- updates public.users
set search_path = ''
as $$
declare
    v_version int := private.bump_token_version(private.require_caller());
begin
    perform private.log_event('INFO', 'auth', 'logout_everywhere', 'every token revoked', null, private.caller_id());
    return v_version;
end
$$;
comment on function api.logout_everywhere() is 'Revoke every token of the caller, this one included; returns the new token version.';

-- Administration ----------------------------------------------------------------------------------

drop function if exists api.list_users();
create function api.list_users() returns setof private.user_accounts
language plpgsql stable
security definer  -- reads public.users
set search_path = ''
as $$
begin
    perform private.require_admin();
    return query select * from private.user_accounts order by user_id;
end
$$;
comment on function api.list_users() is 'Admin: every account.';

drop function if exists api.disable_user(int);
create function api.disable_user(p_user_id int) returns setof private.user_accounts
language plpgsql
security definer  -- updates public.users
set search_path = ''
as $$
begin
    perform private.require_admin();
    perform private.disable_user(p_user_id);
    return query select * from private.user_accounts where user_id = p_user_id;
end
$$;
comment on function api.disable_user(int) is 'Admin: disable an account and revoke its tokens (not the last active admin: SRC12).';

drop function if exists api.enable_user(int);
create function api.enable_user(p_user_id int) returns setof private.user_accounts
language plpgsql
security definer  -- updates public.users
set search_path = ''
as $$
begin
    perform private.require_admin();
    perform private.enable_user(p_user_id);
    return query select * from private.user_accounts where user_id = p_user_id;
end
$$;
comment on function api.enable_user(int) is 'Admin: enable a disabled account.';

drop function if exists api.unlock_user(int);
create function api.unlock_user(p_user_id int) returns setof private.user_accounts
language plpgsql
security definer  -- updates public.users
set search_path = ''
as $$
begin
    perform private.require_admin();
    perform private.unlock_user(p_user_id);
    return query select * from private.user_accounts where user_id = p_user_id;
end
$$;
comment on function api.unlock_user(int) is 'Admin: end a lockout and reset the failure counters.';

drop function if exists api.set_role(int, text);
create function api.set_role(p_user_id int, p_role text) returns setof private.user_accounts
language plpgsql
security definer  -- updates public.users
set search_path = ''
as $$
begin
    perform private.require_admin();
    perform private.set_user_role(p_user_id, p_role);
    return query select * from private.user_accounts where user_id = p_user_id;
end
$$;
comment on function api.set_role(int, text) is
    'Admin: give an account the role user, admin or auditor; revokes its tokens. The last active admin cannot be demoted (SRC12).';
