-- depends: 20261126_13_common_passwords
-- Accounts: lockout that strangers cannot turn against a user (OWASP's device cookies), with a hard cap.
--
-- A successful login registers the device it came from: the API hands it a signed device token whose
-- random id is stored here only as a SHA-256. Later attempts presenting that token are counted on the
-- device's own row; every other attempt shares the account's budget (the counters on public.users). So a
-- stranger's wrong passwords can lock the shared budget, never a device that has logged in before.
-- Guessing stays capped (NIST SP 800-63B 5.2.2: at most 100 consecutive failures before an administrator
-- must act): at `lockout_hard_limit` consecutive failures a budget stays locked until unlocked (the count
-- itself is that state; `strongroom admin unlock` resets it).

alter table private.auth_settings
    add column lockout_hard_limit int not null default 100 check (lockout_hard_limit between 1 and 1000),
    add column devices_per_user int not null default 20 check (devices_per_user between 1 and 1000);
comment on column private.auth_settings.lockout_hard_limit is
    'Consecutive failed logins (since the last success) after which a budget stays locked until an administrator unlocks it.';
comment on column private.auth_settings.devices_per_user is 'Devices remembered per user; the least recently used one goes first.';

alter table public.users
    add column failures_since_login int not null default 0,
    add constraint users_failures_since_login_not_negative check (failures_since_login >= 0);
comment on column public.users.failures_since_login is
    'Consecutive failed logins without a known device since the last success (temporary locks do not reset it); '
    'at lockout_hard_limit the account stays locked for them until unlocked.';

create table private.login_devices (
    id bigint generated always as identity primary key,
    user_id int not null references public.users (id) on delete cascade,
    device_hash bytea not null unique check (length(device_hash) = 32),
    failed_logins int not null default 0 check (failed_logins >= 0),
    lock_count int not null default 0 check (lock_count >= 0),
    locked_until timestamptz,
    failures_since_login int not null default 0 check (failures_since_login >= 0),
    created_at timestamptz not null default now(),
    last_login_at timestamptz not null default now()
);
create index login_devices_user on private.login_devices (user_id, last_login_at);

comment on table private.login_devices is
    'Devices a user has logged in from (OWASP device cookies): attempts presenting one are counted here, apart from strangers''.';
comment on column private.login_devices.device_hash is 'SHA-256 of the device token''s random id; the token itself is never stored.';
comment on column private.login_devices.failed_logins is 'Consecutive failures from this device since its last success or lock.';
comment on column private.login_devices.lock_count is 'Locks of this device since its last success: each further one lasts twice as long.';
comment on column private.login_devices.locked_until is 'Attempts from this device are refused until then.';
comment on column private.login_devices.failures_since_login is
    'Consecutive failures from this device since its last success; at lockout_hard_limit it is locked until unlocked.';
