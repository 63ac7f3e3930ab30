-- Accounts: password hashing and policy, registration, login with lockout, token versions, the
-- account-changing helpers, and the row-level security that keeps each caller to their own rows.
--
-- How a password is stored:
--   prehash = base64(hmac_sha256(NFKC(password), pepper))     44 ASCII bytes, whatever the password
--   hashed_password = crypt(prehash, gen_salt('bf', cost))    bcrypt, cost from private.auth_settings
-- bcrypt reads only the first 72 bytes of its input; the prehash makes every byte of the password count.
-- The pepper comes from the server's environment with each call and is never stored.
--
-- Functions here are helpers in `private`; what clients call is in 54_api_users.sql (and api.register,
-- api.login below, which run before there is a caller). Grants are in 90_grants.sql.

-- Errors -------------------------------------------------------------------------------------------
-- The accounts area uses the whole SRA class and the x1y codes 10-19 of the shared classes.
insert into private.error_codes (sqlstate, name, http_status, description) values
    ('SRA02', 'token_revoked', 401,
     'The token is older than the account''s token version (password changed, account disabled, role changed or logged out everywhere): log in again.'),
    ('SRA03', 'account_disabled', 401, 'The account is disabled.'),
    ('SRA04', 'unknown_caller', 401, 'The token names a user that does not exist.'),
    ('SRA05', 'role_mismatch', 401, 'The token''s role is not the account''s role: log in again.'),
    ('SRA06', 'request_already_begun', 500, 'api.begin_request was called twice in one transaction.'),
    ('SRP10', 'username_invalid', 422,
     'A username is 3 to 64 characters: ASCII letters, digits, ''.'', ''_'' and ''-'', starting with a letter or digit.'),
    ('SRP11', 'email_invalid', 422, 'The email address is not of the form name@domain.tld (at most 254 characters).'),
    ('SRP12', 'password_too_short', 422, 'A password has at least 12 characters.'),
    ('SRP13', 'password_too_long', 422, 'A password has at most 256 characters.'),
    ('SRP14', 'password_too_common', 422, 'The password is one of the 10,000 most common passwords.'),
    ('SRP15', 'password_contains_username', 422, 'The password contains the username.'),
    ('SRP16', 'role_invalid', 422, 'A role is user, admin or auditor.'),
    ('SRP17', 'setting_invalid', 422, 'An authentication setting is out of its allowed range.'),
    ('SRP18', 'request_context_invalid', 400, 'api.begin_request was given an empty or oversized value.'),
    ('SRC10', 'username_taken', 409, 'That username is taken (names are compared without regard to case).'),
    ('SRC11', 'email_taken', 409, 'That email address is already registered (compared without regard to case).'),
    ('SRC12', 'last_admin', 409, 'This would leave no active administrator.'),
    ('SRN10', 'user_not_found', 404, 'No such user.'),
    ('SRK10', 'pepper_invalid', 500, 'The server passed no pepper, or one shorter than 32 bytes.')
on conflict (sqlstate) do update
    set name = excluded.name, http_status = excluded.http_status, description = excluded.description;

-- Settings -----------------------------------------------------------------------------------------

drop function if exists private.set_auth_settings(int, int, interval, interval);
drop function if exists private.set_auth_settings(int, int, interval, interval, int, int);
create function private.set_auth_settings(
    p_bcrypt_cost int default null,
    p_lockout_threshold int default null,
    p_lockout_base interval default null,
    p_lockout_cap interval default null,
    p_lockout_hard_limit int default null,
    p_devices_per_user int default null
) returns private.auth_settings
language plpgsql
set search_path = ''
as $$
declare
    v_result private.auth_settings;
begin
    update private.auth_settings s
       set bcrypt_cost = coalesce(p_bcrypt_cost, s.bcrypt_cost),
           lockout_threshold = coalesce(p_lockout_threshold, s.lockout_threshold),
           lockout_base = coalesce(p_lockout_base, s.lockout_base),
           lockout_cap = coalesce(p_lockout_cap, s.lockout_cap),
           lockout_hard_limit = coalesce(p_lockout_hard_limit, s.lockout_hard_limit),
           devices_per_user = coalesce(p_devices_per_user, s.devices_per_user),
           -- Unknown users must cost what known ones do: the dummy hash follows the cost.
           dummy_hash = case when coalesce(p_bcrypt_cost, s.bcrypt_cost) = s.bcrypt_cost then s.dummy_hash
                             else public.crypt(encode(public.gen_random_bytes(32), 'base64'),
                                               public.gen_salt('bf', p_bcrypt_cost)) end,
           updated_at = now()
     returning s.* into v_result;
    perform private.log_event('INFO', 'auth', 'settings_changed', 'authentication settings changed',
        jsonb_build_object('bcrypt_cost', v_result.bcrypt_cost, 'lockout_threshold', v_result.lockout_threshold,
                           'lockout_base', v_result.lockout_base, 'lockout_cap', v_result.lockout_cap,
                           'lockout_hard_limit', v_result.lockout_hard_limit,
                           'devices_per_user', v_result.devices_per_user, 'by', session_user));
    return v_result;
exception when check_violation then
    raise exception 'authentication setting out of range: %', sqlerrm
        using errcode = 'SRP17',
              hint = 'bcrypt_cost 10..20, lockout_threshold 1..1000, lockout_base 1 second..1 day, lockout_cap base..1 year, '
                     'lockout_hard_limit 1..1000, devices_per_user 1..1000.';
end
$$;
comment on function private.set_auth_settings(int, int, interval, interval, int, int) is
    'DBA: change the password and lockout settings; null keeps a value. E.g. select private.set_auth_settings(p_bcrypt_cost => 13);';

-- Passwords ----------------------------------------------------------------------------------------

drop function if exists private.password_prehash(text, text);
create function private.password_prehash(p_password text, p_pepper text) returns text
language plpgsql stable
set search_path = ''
as $$
begin
    -- The pepper is a secret of at least 32 random bytes; anything shorter is a misconfigured server.
    if p_pepper is null or octet_length(p_pepper) < 32 then
        raise exception 'the server passed no usable pepper' using errcode = 'SRK10',
            hint = 'Set STRONGROOM_PEPPER to at least 32 random bytes, base64-encoded.';
    end if;
    return encode(public.hmac(convert_to(normalize(coalesce(p_password, ''), nfkc), 'UTF8'),
                              convert_to(p_pepper, 'UTF8'), 'sha256'), 'base64');
end
$$;
comment on function private.password_prehash(text, text) is
    'base64(hmac_sha256(NFKC(password), pepper)): what bcrypt hashes, so no byte past the 72nd is ignored.';

drop function if exists private.hash_password(text, text);
create function private.hash_password(p_password text, p_pepper text) returns text
language sql volatile
set search_path = ''
as $$
    select public.crypt(private.password_prehash(p_password, p_pepper),
                        public.gen_salt('bf', (select s.bcrypt_cost from private.auth_settings s)))
$$;
comment on function private.hash_password(text, text) is 'A new bcrypt hash of the password at the configured cost.';

drop function if exists private.password_matches(text, text);
create function private.password_matches(p_prehash text, p_hash text) returns boolean
language sql volatile
set search_path = ''
as $$ select public.crypt(p_prehash, p_hash) = p_hash $$;
comment on function private.password_matches(text, text) is
    'One crypt() of the prehash against a stored (or the dummy) hash.';

drop function if exists private.bcrypt_cost_of(text);
create function private.bcrypt_cost_of(p_hash text) returns int
language sql immutable
set search_path = ''
as $$ select (substring(p_hash from '^\$2a\$([0-9]{2})\$'))::int $$;
comment on function private.bcrypt_cost_of(text) is 'The cost of a $2a$ bcrypt hash, or null for any other format.';

drop function if exists private.check_password_policy(text, text);
create function private.check_password_policy(p_password text, p_username text) returns void
language plpgsql stable
set search_path = ''
as $$
declare
    -- Measured as it will be hashed: NFKC, in code points (characters), not bytes.
    v_normalized text := normalize(coalesce(p_password, ''), nfkc);
begin
    if char_length(v_normalized) < 12 then
        raise exception 'the password is too short: % characters, at least 12 are needed', char_length(v_normalized)
            using errcode = 'SRP12', hint = 'A few unrelated words make a long password that is easy to remember.';
    end if;
    if char_length(v_normalized) > 256 then
        raise exception 'the password is too long: % characters, at most 256 are allowed', char_length(v_normalized)
            using errcode = 'SRP13';
    end if;
    if exists (select 1 from private.common_passwords c where c.password = lower(v_normalized)) then
        raise exception 'this password is one of the 10,000 most common passwords'
            using errcode = 'SRP14', hint = 'Choose a password nobody else is likely to use.';
    end if;
    if p_username is not null and strpos(lower(v_normalized), lower(p_username)) > 0 then
        raise exception 'the password must not contain the username' using errcode = 'SRP15';
    end if;
end
$$;
comment on function private.check_password_policy(text, text) is
    'The password policy: 12 to 256 characters after NFKC, not one of the 10,000 most common, not containing the username. No composition rules.';

-- Users --------------------------------------------------------------------------------------------

-- Login and registration run before there is a caller, so row-level security on users would hide the
-- very row they need. They name the one username they work on in the request context, which a policy
-- (sql/91_policies.sql) honours, and clear it when done.
drop function if exists private.set_auth_subject(text);
create function private.set_auth_subject(p_username text) returns void
language sql volatile
set search_path = ''
as $$ select private.set_subject(null, p_username) $$;
comment on function private.set_auth_subject(text) is
    'Let this transaction''s login or registration see the one user row it works on (row-level security).';

drop function if exists private.roles();
create function private.roles() returns text[]
language sql immutable
set search_path = ''
as $$ select array['user', 'admin', 'auditor'] $$;
comment on function private.roles() is
    'Every role an account may have: the list the account functions check against (api.begin_request, which '
    'may run nothing in private, the constraint users_role_known and api/rules.py hold copies that '
    'tests/test_rules.py pins to this one).';

drop function if exists private.create_user(text, text, text, text, text);
create function private.create_user(
    p_username text,
    p_password text,
    p_pepper text,
    p_email text default null,
    p_role text default 'user'
) returns int
language plpgsql
set search_path = ''
as $$
declare
    v_email text := nullif(btrim(p_email), '');
    v_new_id int;
    v_violated text;
begin
    if p_username is null or p_username !~ '^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$' then
        raise exception 'the username must be 3 to 64 characters: letters, digits, ''.'', ''_'' or ''-'', starting with a letter or digit'
            using errcode = 'SRP10';
    end if;
    if v_email is not null and (length(v_email) > 254 or v_email !~ '^[^@[:space:]]+@[^@[:space:].]+(\.[^@[:space:].]+)+$') then
        raise exception 'the email address is not valid' using errcode = 'SRP11',
            hint = 'An address looks like name@example.org.';
    end if;
    if p_role is null or p_role <> all (private.roles()) then
        raise exception 'unknown role %', coalesce(p_role, 'null') using errcode = 'SRP16';
    end if;
    perform private.check_password_policy(p_password, p_username);

    perform private.set_auth_subject(p_username);
    begin
        insert into public.users (username, hashed_password, email, role)
        values (p_username, private.hash_password(p_password, p_pepper), v_email, p_role)
        returning id into v_new_id;
    exception when unique_violation then
        get stacked diagnostics v_violated = constraint_name;
        perform private.set_auth_subject(null);
        if v_violated like 'users_email%' then
            raise exception 'the email address is already registered' using errcode = 'SRC11';
        end if;
        raise exception 'the username % is taken', p_username using errcode = 'SRC10',
            hint = 'Usernames are compared without regard to case.';
    end;
    perform private.set_auth_subject(null);
    perform private.log_event('INFO', 'auth', 'user_created', format('user %s created with role %s', p_username, p_role),
        jsonb_build_object('role', p_role, 'actor_id', private.caller_id()), v_new_id);
    return v_new_id;
end
$$;
comment on function private.create_user(text, text, text, text, text) is
    'Create a user after checking the username, email and password policy. DBAs: strongroom admin create.';

-- Lockout ------------------------------------------------------------------------------------------
-- Two kinds of budget count failed password checks (see migration 20261126_14_login_devices):
--   * a device's, for attempts presenting a device token this user was given at a successful login;
--   * the account's shared one (the counters on public.users), for every other attempt.
-- Both follow one rule: at lockout_threshold failures the budget locks for lockout_base, each further
-- lock (without a success between) twice as long, up to lockout_cap; at lockout_hard_limit consecutive
-- failures (NIST SP 800-63B: at most 100) it stays locked until an administrator unlocks it. That state
-- is the count itself (failures_since_login >= lockout_hard_limit), not a time: private.unlock_user resets
-- it. A lock holds only its own budget: strangers cannot lock a user out of a device that has logged in
-- before.

drop function if exists private.next_lock(int, int, int);
create function private.next_lock(
    p_failed_logins int,
    p_lock_count int,
    p_failures_since_login int,
    out failed_logins int,
    out lock_count int,
    out locked_until timestamptz,
    out failures_since_login int
)
language plpgsql stable
set search_path = ''
as $$
declare
    v_settings private.auth_settings;
begin
    select * into strict v_settings from private.auth_settings;
    failures_since_login := p_failures_since_login + 1;
    failed_logins := p_failed_logins + 1;
    lock_count := p_lock_count;
    if failures_since_login >= v_settings.lockout_hard_limit then
        failed_logins := 0;
        lock_count := p_lock_count + 1;
    elsif failed_logins >= v_settings.lockout_threshold then
        failed_logins := 0;
        lock_count := p_lock_count + 1;
        locked_until := now() + least(v_settings.lockout_base * power(2, least(p_lock_count, 30)), v_settings.lockout_cap);
    end if;
end
$$;
comment on function private.next_lock(int, int, int) is
    'The lockout rule for one budget: its counters after one more failure, and the timed lock that follows, if '
    'any (at lockout_hard_limit consecutive failures no time: it is locked until an administrator unlocks it).';

-- One failed password check, counted on the device's budget (p_device_id) or on the account's shared one.
drop function if exists private.record_failed_login(int);
drop function if exists private.record_failed_login(int, bigint);
create function private.record_failed_login(p_user_id int, p_device_id bigint default null,
                                            out status text, out locked_until timestamptz)
language plpgsql
set search_path = ''
as $$
declare
    v_next record;
    v_scope text := case when p_device_id is null then 'account' else 'device' end;
    v_hard_limit int := (select s.lockout_hard_limit from private.auth_settings s);
    v_until_unlocked boolean;
begin
    if p_device_id is null then
        update public.users u
           set (failed_logins, lock_count, locked_until, failures_since_login) =
               (select * from private.next_lock(u.failed_logins, u.lock_count, u.failures_since_login))
         where u.id = p_user_id
        returning u.failed_logins, u.lock_count, u.locked_until, u.failures_since_login into strict v_next;
    else
        update private.login_devices d
           set (failed_logins, lock_count, locked_until, failures_since_login) =
               (select * from private.next_lock(d.failed_logins, d.lock_count, d.failures_since_login))
         where d.id = p_device_id
        returning d.failed_logins, d.lock_count, d.locked_until, d.failures_since_login into strict v_next;
    end if;
    v_until_unlocked := v_next.failures_since_login >= v_hard_limit;
    if v_next.locked_until is null and not v_until_unlocked then
        status := 'bad_credentials';
        perform private.log_event('WARNING', 'auth', 'login_failed', 'wrong password',
            jsonb_build_object('failed_logins', v_next.failures_since_login, 'scope', v_scope,
                               'client_addr', private.client_addr()), p_user_id);
        return;
    end if;
    status := 'locked';
    locked_until := v_next.locked_until;  -- null when locked until unlocked
    perform private.log_event('WARNING', 'auth', 'account_locked',
        case when v_until_unlocked
             then format('%s locked until an administrator unlocks it, after %s consecutive failed logins',
                         v_scope, v_next.failures_since_login)
             else format('%s locked until %s after %s consecutive failed logins', v_scope, v_next.locked_until,
                         v_next.failures_since_login) end,
        jsonb_build_object('scope', v_scope, 'lock_count', v_next.lock_count, 'locked_until', v_next.locked_until,
                           'until_unlocked', v_until_unlocked,
                           'failures_since_login', v_next.failures_since_login,
                           'client_addr', private.client_addr()), p_user_id);
end
$$;
comment on function private.record_failed_login(int, bigint) is
    'Count a failed login on the device''s budget (p_device_id) or the account''s shared one, and lock that '
    'budget when private.next_lock says so (event account_locked, with scope device or account).';

-- A successful login from a device without a valid device token: remember it, and forget the least
-- recently used devices beyond devices_per_user.
drop function if exists private.remember_device(int, bytea);
create function private.remember_device(p_user_id int, p_device_hash bytea) returns void
language plpgsql
set search_path = ''
as $$
declare
    v_keep int := (select s.devices_per_user from private.auth_settings s);
begin
    insert into private.login_devices (user_id, device_hash) values (p_user_id, p_device_hash);
    delete from private.login_devices d
     where d.user_id = p_user_id
       and d.id not in (select k.id from private.login_devices k where k.user_id = p_user_id
                         order by k.last_login_at desc, k.id desc limit v_keep);
end
$$;
comment on function private.remember_device(int, bytea) is
    'Register the device a user just logged in from (its token''s SHA-256); keeps the devices_per_user most recent.';

-- Check a password for a login or a password change. At most one crypt() of the prehash runs: against
-- the user's hash, or against the dummy hash when there is no such user, so the work done does not
-- reveal which usernames exist. A locked budget is refused before any crypt(): its answer (locked) already
-- says the account exists, and a flood against a locked account must cost the database nothing.
drop function if exists private.authenticate(text, text, text, boolean);
create or replace function private.attempted_name_hash(p_username text, p_pepper text) returns text
language sql immutable set search_path = '' as $$
    -- HMAC-SHA-256 of the lower-cased name under a key derived from the pepper (never the pepper itself, which
    -- also keys password pre-hashes); 128 bits in hex are plenty to group and to test candidates.
    select pg_catalog.left(pg_catalog.encode(public.hmac(pg_catalog.lower(p_username),
                                                         'strongroom attempted-name ' || coalesce(p_pepper, ''),
                                                         'sha256'), 'hex'), 32)
$$;
comment on function private.attempted_name_hash(text, text) is
    'The keyed hash a failed login for an unknown username records instead of the name (logs.details '
    'attempted_name_hash). A DBA with the pepper checks a name with it; without the pepper it reveals nothing.';

drop function if exists private.authenticate(text, text, text, boolean, bytea, bytea);
create function private.authenticate(
    p_username text,
    p_password text,
    p_pepper text,
    p_is_login boolean default true,
    p_device_hash bytea default null,
    p_new_device_hash bytea default null
)
returns table (status text, user_id int, role text, token_version int, locked_until timestamptz,
               device_issued boolean)
language plpgsql
set search_path = ''
as $$
declare
    v_settings private.auth_settings;
    v_user public.users;
    v_device private.login_devices;
    v_locked timestamptz;
    v_failures int;
    v_prehash text := private.password_prehash(p_password, p_pepper);
    v_failure record;
    v_issued boolean := false;
begin
    select * into strict v_settings from private.auth_settings;
    perform private.set_auth_subject(p_username);
    select * into v_user from public.users where lower(users.username) = lower(p_username) for update;

    if v_user.id is null then
        perform private.password_matches(v_prehash, v_settings.dummy_hash);
        perform private.set_auth_subject(null);
        -- The attempted name is not logged: people type their password into the username field. Its keyed
        -- hash is (private.attempted_name_hash): repeated attempts at one name group together, and whoever
        -- holds the pepper can test a candidate name, but the log alone reveals nothing typed.
        perform private.log_event('WARNING', 'auth', 'login_failed', 'unknown username',
            jsonb_build_object('client_addr', private.client_addr(),
                               'attempted_name_hash', private.attempted_name_hash(p_username, p_pepper)), null);
        return query select 'bad_credentials', null::int, null::text, null::int, null::timestamptz, false;
        return;
    end if;

    if p_device_hash is not null then
        select * into v_device from private.login_devices d
         where d.device_hash = p_device_hash and d.user_id = v_user.id for update;
    end if;
    v_locked := case when v_device.id is not null then v_device.locked_until else v_user.locked_until end;
    v_failures := case when v_device.id is not null then v_device.failures_since_login else v_user.failures_since_login end;
    if v_locked > now() or v_failures >= v_settings.lockout_hard_limit then
        perform private.set_auth_subject(null);
        perform private.log_event('WARNING', 'auth', 'login_refused_locked', 'login while the account is locked',
            jsonb_build_object('locked_until', v_locked, 'client_addr', private.client_addr(),
                               'scope', case when v_device.id is null then 'account' else 'device' end), v_user.id);
        -- locked_until: null when the lock holds until an administrator unlocks it.
        return query select 'locked', null::int, null::text, null::int,
                            case when v_locked > now() then v_locked end, false;
        return;
    end if;

    if not private.password_matches(v_prehash, v_user.hashed_password) then
        if v_user.is_active is not true then
            -- A disabled account says so only to someone who knows its password.
            perform private.log_event('WARNING', 'auth', 'login_failed', 'wrong password for a disabled account',
                jsonb_build_object('client_addr', private.client_addr()), v_user.id);
            select 'bad_credentials'::text as status, null::timestamptz as locked_until into v_failure;
        else
            select * into v_failure from private.record_failed_login(v_user.id, v_device.id);
        end if;
        perform private.set_auth_subject(null);
        return query select v_failure.status::text, null::int, null::text, null::int,
                            v_failure.locked_until::timestamptz, false;
        return;
    end if;

    if v_user.is_active is not true then
        perform private.log_event('WARNING', 'auth', 'login_refused_disabled', 'login to a disabled account',
            jsonb_build_object('client_addr', private.client_addr()), v_user.id);
        perform private.set_auth_subject(null);
        return query select 'disabled', null::int, null::text, null::int, null::timestamptz, false;
        return;
    end if;

    -- The password is proven: every consecutive-failure count of this account starts again.
    update public.users
       set failed_logins = 0, lock_count = 0, locked_until = null, failures_since_login = 0,
           last_login_at = case when p_is_login then now() else users.last_login_at end,
           -- A hash made at a lower cost (or another format) is upgraded now that we hold the password.
           hashed_password = case when coalesce(private.bcrypt_cost_of(users.hashed_password), 0) < v_settings.bcrypt_cost
                                  then public.crypt(v_prehash, public.gen_salt('bf', v_settings.bcrypt_cost))
                                  else users.hashed_password end
     where id = v_user.id;
    if v_device.id is not null then
        update private.login_devices d
           set failed_logins = 0, lock_count = 0, locked_until = null, failures_since_login = 0,
               last_login_at = case when p_is_login then now() else d.last_login_at end
         where d.id = v_device.id;
    elsif p_is_login and p_new_device_hash is not null then
        perform private.remember_device(v_user.id, p_new_device_hash);
        v_issued := true;
    end if;
    perform private.set_auth_subject(null);
    if p_is_login then
        perform private.log_event('INFO', 'auth', 'login_ok', 'logged in',
            jsonb_build_object('client_addr', private.client_addr(), 'known_device', v_device.id is not null), v_user.id);
    end if;
    return query select 'ok', v_user.id, v_user.role, v_user.token_version, null::timestamptz, v_issued;
end
$$;
comment on function private.authenticate(text, text, text, boolean, bytea, bytea) is
    'Check a username and password (for a login, or p_is_login false to confirm a password change): ok, '
    'bad_credentials, locked or disabled. Counts a failure on the presented device''s budget or the shared one; '
    'a locked budget is refused without crypt(). On a login''s success from an unknown device, registers '
    'p_new_device_hash (device_issued). Re-hashes a lower-cost hash on success.';

drop function if exists private.bump_token_version(int);
create function private.bump_token_version(p_user_id int) returns int
language sql
set search_path = ''
as $$
    update public.users set token_version = token_version + 1 where id = p_user_id returning token_version
$$;
comment on function private.bump_token_version(int) is 'Invalidate every token of the user: begin_request refuses older versions.';

drop function if exists private.lock_user_row(int);
-- Returns nothing rather than the row: a function returning public.users would pin the table's type,
-- and the foundation's rollback could no longer drop the table.
create function private.lock_user_row(p_user_id int) returns void
language plpgsql
set search_path = ''
as $$
begin
    perform 1 from public.users where id = p_user_id for update;
    if not found then
        raise exception 'no user with id %', p_user_id using errcode = 'SRN10';
    end if;
end
$$;
comment on function private.lock_user_row(int) is 'Lock the user''s row for update, or raise SRN10 if there is none (visible).';

-- Administrators: at least one active admin must remain. Locks every active admin row first, so two
-- admins demoting each other at the same time cannot both succeed.
drop function if exists private.assert_not_last_admin(int);
create function private.assert_not_last_admin(p_user_id int) returns void
language plpgsql
set search_path = ''
as $$
begin
    perform 1 from public.users where role = 'admin' and is_active is true order by id for update;
    if exists (select 1 from public.users where id = p_user_id and role = 'admin' and is_active is true)
       and not exists (select 1 from public.users
                        where role = 'admin' and is_active is true and id <> p_user_id) then
        raise exception 'user % is the last active administrator', p_user_id using errcode = 'SRC12',
            hint = 'Make another user an administrator first.';
    end if;
end
$$;
comment on function private.assert_not_last_admin(int) is 'Refuse (SRC12) a change that would leave no active administrator.';

drop function if exists private.disable_user(int);
create function private.disable_user(p_user_id int) returns void
language plpgsql
set search_path = ''
as $$
begin
    perform private.lock_user_row(p_user_id);
    perform private.assert_not_last_admin(p_user_id);
    update public.users set is_active = false where id = p_user_id;
    perform private.bump_token_version(p_user_id);
    perform private.log_event('WARNING', 'auth', 'user_disabled', format('user %s disabled', p_user_id),
        jsonb_build_object('actor_id', private.caller_id(), 'by', session_user), p_user_id);
end
$$;
comment on function private.disable_user(int) is 'Disable a user and revoke their tokens. DBAs: select private.disable_user(<id>);';

drop function if exists private.enable_user(int);
create function private.enable_user(p_user_id int) returns void
language plpgsql
set search_path = ''
as $$
begin
    perform private.lock_user_row(p_user_id);
    update public.users set is_active = true where id = p_user_id;
    perform private.log_event('INFO', 'auth', 'user_enabled', format('user %s enabled', p_user_id),
        jsonb_build_object('actor_id', private.caller_id(), 'by', session_user), p_user_id);
end
$$;
comment on function private.enable_user(int) is 'Enable a disabled user. DBAs: select private.enable_user(<id>);';

drop function if exists private.unlock_user(int);
create function private.unlock_user(p_user_id int) returns void
language plpgsql
set search_path = ''
as $$
begin
    perform private.lock_user_row(p_user_id);
    update public.users set failed_logins = 0, lock_count = 0, locked_until = null, failures_since_login = 0
     where id = p_user_id;
    update private.login_devices
       set failed_logins = 0, lock_count = 0, locked_until = null, failures_since_login = 0
     where user_id = p_user_id;
    perform private.log_event('INFO', 'auth', 'user_unlocked', format('user %s unlocked', p_user_id),
        jsonb_build_object('actor_id', private.caller_id(), 'by', session_user), p_user_id);
end
$$;
comment on function private.unlock_user(int) is
    'End every lockout of the user (the shared budget and each device''s) and reset the failure counters. DBAs: select private.unlock_user(id) from users where username = ''alice'';';

drop function if exists private.set_user_role(int, text);
create function private.set_user_role(p_user_id int, p_role text) returns void
language plpgsql
set search_path = ''
as $$
declare
    v_user public.users;
begin
    perform private.lock_user_row(p_user_id);
    select * into strict v_user from public.users where id = p_user_id;
    if p_role is null or p_role <> all (private.roles()) then
        raise exception 'unknown role %', coalesce(p_role, 'null') using errcode = 'SRP16';
    end if;
    if v_user.role = p_role then
        return;
    end if;
    if v_user.role = 'admin' then
        perform private.assert_not_last_admin(p_user_id);
    end if;
    update public.users set role = p_role where id = p_user_id;
    perform private.bump_token_version(p_user_id);
    perform private.log_event('WARNING', 'auth', 'role_changed', format('user %s: role %s -> %s', p_user_id, v_user.role, p_role),
        jsonb_build_object('from', v_user.role, 'to', p_role, 'actor_id', private.caller_id(), 'by', session_user), p_user_id);
end
$$;
comment on function private.set_user_role(int, text) is
    'Change a user''s role (revokes their tokens); the last active admin keeps theirs. DBAs: select private.set_user_role(<id>, ''admin'');';

-- Registration and login: the two calls made before there is a caller ---------------------------------

drop function if exists api.register(text, text, text, text);
create function api.register(p_username text, p_password text, p_pepper text, p_email text default null)
returns table (user_id int, username text, email text, role text, created_at timestamp)
language plpgsql
security definer  -- registration writes public.users, which the authenticator may not touch
set search_path = ''
as $$
declare
    v_new_id int := private.create_user(p_username, p_password, p_pepper, p_email, 'user');
begin
    perform private.set_auth_subject(p_username);
    return query select u.id, u.username, u.email, u.role, u.created_at from public.users u where u.id = v_new_id;
    perform private.set_auth_subject(null);
end
$$;
comment on function api.register(text, text, text, text) is
    'Create an account with the user role. Errors: SRP10 username, SRP11 email, SRP12-15 password policy, SRC10/SRC11 taken.';

drop function if exists api.login(text, text, text, inet, text);
drop function if exists api.login(text, text, text, inet, text, bytea, bytea, bytea, interval);
create function api.login(
    p_username text,
    p_password text,
    p_pepper text,
    p_client_addr inet default null,
    p_request_id text default null,
    p_device_hash bytea default null,
    p_new_device_hash bytea default null,
    p_refresh_hash bytea default null,
    p_refresh_ttl interval default null
) returns table (status text, user_id int, role text, token_version int, locked_until timestamptz,
                 device_issued boolean, session_id uuid)
language plpgsql
security definer  -- reads and updates public.users, which the authenticator may not touch
set search_path = ''
as $$
declare
    v_row record;
    v_session uuid;
begin
    -- The API began the request (api.begin_anonymous_request); a direct call records its own address and id.
    if not exists (select 1 from private.current_context) then
        perform api.begin_anonymous_request(left(p_request_id, 200), p_client_addr);
    end if;
    select * into strict v_row from private.authenticate(p_username, p_password, p_pepper, true, p_device_hash,
                                                         p_new_device_hash);
    -- The session opens in the same transaction as the check: one call, one decision, here. The context
    -- names the one account api.open_session may open a session for in this transaction.
    if v_row.status = 'ok' then
        perform private.ensure_context();
        update private.request_context set authenticated_user = v_row.user_id
         where backend_pid = pg_catalog.pg_backend_pid();
        if p_refresh_hash is not null then
            v_session := api.open_session(v_row.user_id, v_row.token_version, p_refresh_hash, p_refresh_ttl);
        end if;
    end if;
    return query select v_row.status, v_row.user_id, v_row.role, v_row.token_version, v_row.locked_until,
                        v_row.device_issued, v_session;
end
$$;
comment on function api.login(text, text, text, inet, text, bytea, bytea, bytea, interval) is
    'Check credentials and, when they are right and p_refresh_hash is given, open the refresh-token session. '
    'Returns a status instead of raising, so the audit row survives: ok (with user_id, role, token_version; '
    'device_issued when p_new_device_hash was registered for a device without a valid p_device_hash; session_id, '
    'the session its access tokens carry), bad_credentials (wrong password or unknown user, indistinguishable), '
    'locked (with locked_until; the device''s budget or the shared one), disabled (right password, disabled account).';
