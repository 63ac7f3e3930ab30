-- depends: 20261126_01_extensions_and_schemas
-- The seven tables of the specification, with exactly its columns. Later migrations add columns; none
-- renames or drops one. Where a later requirement fights a seed rule (an encrypted column, a cascade
-- that would delete audit rows), that migration says what it decided and why.

create table public.users (
    id serial primary key,
    username text unique not null,
    hashed_password text not null,
    email text unique,
    is_active boolean default true,
    created_at timestamp default now()
);
comment on table public.users is 'People who log in. Disabled (is_active = false), never deleted, so audit rows keep their actor.';
comment on column public.users.hashed_password is 'bcrypt (crypt() with gen_salt(''bf'')) of the peppered pre-hash; never the password.';
comment on column public.users.is_active is 'false: the account is disabled and every token it holds is refused.';

create table public.aes_keys (
    id serial primary key,
    key_label varchar(64) not null,
    key_value text not null,
    is_active boolean default true,
    created_at timestamp default now(),
    rotated_at timestamp null
);
comment on table public.aes_keys is 'Data keys for field encryption, each stored only wrapped by the master key.';
comment on column public.aes_keys.key_value is 'The data key wrapped (pgp_sym_encrypt) by the master key; never the key itself.';
comment on column public.aes_keys.is_active is 'true for the one key new writes use.';
comment on column public.aes_keys.rotated_at is 'When a newer key replaced this one for new writes.';

create table public.key_logs (
    id serial primary key,
    key_id int references public.aes_keys (id),
    timestamp timestamp default now(),
    action varchar(50) not null,
    details text null
);
comment on table public.key_logs is 'Append-only record of every key event (created, rotated, re-encryption progress, retired).';

create table public.entries (
    id serial primary key,
    user_id int references public.users (id) on delete cascade,
    title varchar(255),
    content text,
    created_at timestamp default now()
);
comment on table public.entries is 'Secure notes: the title in clear, the content encrypted.';

create table public.orders (
    id serial primary key,
    user_id int references public.users (id) on delete set null,
    description text not null,
    status varchar(50) default 'pending',
    created_at timestamp default now()
);
comment on table public.orders is 'Orders entered by operators.';
comment on column public.orders.status is 'pending, processing, shipped or cancelled.';

create table public.order_logs (
    id serial primary key,
    order_id int references public.orders (id) on delete cascade,
    timestamp timestamp default now(),
    action varchar(50) not null,
    details text
);
comment on table public.order_logs is 'Append-only history of each order: created, status changes.';

create table public.logs (
    id serial primary key,
    timestamp timestamp default now(),
    level varchar(20) default 'INFO',
    component varchar(50) null,
    message text,
    user_id int references public.users (id)
);
comment on table public.logs is 'Append-only audit and event log: data changes, security events, client events.';
comment on column public.logs.component is 'Who wrote the event: auth, audit, api, gui, ...';
