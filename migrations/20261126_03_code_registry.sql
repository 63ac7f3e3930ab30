-- depends: 20261126_02_seed_tables
-- What a DBA needs to know about the installed database code and its errors.

create table private.installed_code (
    file_name text primary key,
    sha256 text not null check (sha256 ~ '^[0-9a-f]{64}$'),
    applied_at timestamptz not null default now()
);
comment on table private.installed_code is 'The sql/ files `strongroom db migrate` last applied, with their sha256: what code is installed.';

create table private.error_codes (
    sqlstate text primary key check (sqlstate ~ '^SR[A-Z][0-9A-Z]{2}$'),
    name text not null unique,
    http_status int not null check (http_status between 400 and 599),
    description text not null
);
comment on table private.error_codes is 'Our own SQLSTATEs: what each means and the HTTP status the API answers with.';
