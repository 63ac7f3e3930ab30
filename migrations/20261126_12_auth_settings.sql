-- depends: 20261126_11_owner_indexes
-- Accounts: the settings a DBA may tune, one typed and checked row.
-- Change them with private.set_auth_settings(...) (sql/20_auth.sql), which also renews the dummy hash.

create table private.auth_settings (
    singleton boolean primary key default true check (singleton),
    bcrypt_cost int not null default 12 check (bcrypt_cost between 10 and 20),
    lockout_threshold int not null default 10 check (lockout_threshold between 1 and 1000),
    lockout_base interval not null default '5 minutes'
        check (lockout_base >= interval '1 second' and lockout_base <= interval '1 day'),
    lockout_cap interval not null default '24 hours' check (lockout_cap <= interval '1 year'),
    dummy_hash text not null,
    updated_at timestamptz not null default now(),
    constraint auth_settings_cap_not_below_base check (lockout_cap >= lockout_base)
);

comment on table private.auth_settings is
    'Password and lockout settings (one row). Change with private.set_auth_settings(p_bcrypt_cost => ..., ...).';
comment on column private.auth_settings.bcrypt_cost is
    'bcrypt cost for new hashes (at least 10, default 12). Lower-cost hashes are re-hashed at the next successful login.';
comment on column private.auth_settings.lockout_threshold is 'Consecutive failed logins that lock an account.';
comment on column private.auth_settings.lockout_base is 'Length of the first lock; each further lock doubles it.';
comment on column private.auth_settings.lockout_cap is 'Longest lock.';
comment on column private.auth_settings.dummy_hash is
    'A bcrypt hash of a random value at the current cost, compared against when no user matches so that unknown users cost one crypt() too. Not a secret.';

insert into private.auth_settings (dummy_hash)
values (public.crypt(encode(public.gen_random_bytes(32), 'base64'), public.gen_salt('bf', 12)));
