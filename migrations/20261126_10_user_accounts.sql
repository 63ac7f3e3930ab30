-- depends: 20261126_03_code_registry
-- Accounts: what a user row needs beyond the seed's columns for roles, lockout and token revocation.
-- The seed's columns stay as they are; `is_active = false` is what "disabled" means.

alter table public.users
    add column role text not null default 'user',
    add column token_version int not null default 1,
    add column failed_logins int not null default 0,
    add column lock_count int not null default 0,
    add column locked_until timestamptz,
    add column password_changed_at timestamptz not null default now(),
    add column last_login_at timestamptz,
    add constraint users_role_known check (role in ('user', 'admin', 'auditor')),
    add constraint users_token_version_positive check (token_version >= 1),
    add constraint users_failed_logins_not_negative check (failed_logins >= 0),
    add constraint users_lock_count_not_negative check (lock_count >= 0),
    -- The documented username set: 3 to 64 characters, ASCII letters, digits, '.', '_' and '-',
    -- starting with a letter or a digit. ASCII only, so that no two names look alike.
    add constraint users_username_format check (username ~ '^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$'),
    add constraint users_email_format check (
        email is null or (length(email) <= 254 and email ~ '^[^@[:space:]]+@[^@[:space:].]+(\.[^@[:space:].]+)+$')
    );

-- Names and addresses are unique regardless of case: "Alice" cannot register beside "alice".
create unique index users_username_lower_key on public.users (lower(username));
create unique index users_email_lower_key on public.users (lower(email));

comment on column public.users.role is
    'user, admin or auditor: the database role the request runs as (strongroom_<role>). Changing it bumps token_version.';
comment on column public.users.token_version is
    'Tokens carry this number; api.begin_request refuses any other. Bumped by password change, disable, role change and logout everywhere.';
comment on column public.users.failed_logins is
    'Consecutive failed logins since the last success or lock; reaching the lockout threshold locks the account.';
comment on column public.users.lock_count is
    'Locks since the last successful login: each further lock lasts twice as long, up to the cap.';
comment on column public.users.locked_until is
    'Logins are refused until this time. Unlock with: select private.unlock_user(<id>);';
comment on column public.users.password_changed_at is 'When the password was last set.';
comment on column public.users.last_login_at is 'Time of the last successful login.';
comment on column public.users.hashed_password is
    'bcrypt (crypt/gen_salt(''bf'', cost)) of base64(hmac_sha256(NFKC(password), pepper)); the cost is in the hash ($2a$<cost>$).';
