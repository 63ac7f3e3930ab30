-- Schemas, their documentation, default privileges and the generic error codes.
-- The schemas themselves are created by the first migration; this file says what they are for.

comment on schema api is 'The functions clients (the API, through a caller role) may call, and nothing else.';
comment on schema private is 'Helpers and internal tables; no runtime role reaches them directly.';
comment on schema audit is 'Sealing and verification of the append-only log tables.';

-- Nothing we create is executable by PUBLIC unless 90_grants.sql says so.
alter default privileges revoke execute on functions from public;
alter default privileges in schema api revoke execute on functions from public;
alter default privileges in schema private revoke execute on functions from public;
alter default privileges in schema audit revoke execute on functions from public;

insert into private.error_codes (sqlstate, name, http_status, description) values
    ('SRN01', 'not_found', 404, 'The object does not exist, or it belongs to someone else.'),
    ('SRF01', 'forbidden', 403, 'The caller''s role may not do this.'),
    ('SRA01', 'not_authenticated', 401, 'No caller is set for this transaction (call api.begin_request first).')
on conflict (sqlstate) do update
    set name = excluded.name, http_status = excluded.http_status, description = excluded.description;

-- What /ready compares with the files it was deployed with: the applied migrations and installed code.
create or replace function api.installed_code() returns table (kind text, name text, sha256 text)
language sql stable
security definer  -- the authenticator may learn what is installed, not read the tables behind it
set search_path = ''
as $$
    select 'code', c.file_name, c.sha256 from private.installed_code c
    union all
    select 'migration', m.migration_id, m.migration_hash from public._yoyo_migration m
$$;
comment on function api.installed_code() is 'The installed sql/ files (with sha256) and the applied migrations, for readiness checks.';
