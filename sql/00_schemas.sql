-- Schemas, their documentation, default privileges, the generic error codes, and what the api functions
-- share: the input checks and the deletion of a caller's own row.
-- The schemas themselves are created by the first migration; this file says what they are for.

comment on schema api is 'The functions clients (the API, through a caller role) may call, and nothing else.';
comment on schema private is 'Helpers and internal tables; no runtime role reaches them directly.';
comment on schema audit is 'Sealing and verification of the append-only log tables.';
comment on schema request is
    'The API''s one-statement calls: request.<name> begins the request, then calls api.<name> as the caller (92_request.sql).';

-- Nothing we create is executable by PUBLIC unless 90_grants.sql says so.
alter default privileges revoke execute on functions from public;
alter default privileges in schema api revoke execute on functions from public;
alter default privileges in schema private revoke execute on functions from public;
alter default privileges in schema audit revoke execute on functions from public;
alter default privileges in schema request revoke execute on functions from public;

insert into private.error_codes (sqlstate, name, http_status, description) values
    ('SRN01', 'not_found', 404, 'The object does not exist, or it belongs to someone else.'),
    ('SRF01', 'forbidden', 403, 'The caller''s role may not do this.'),
    ('SRA01', 'not_authenticated', 401, 'No caller is set for this transaction (call api.begin_request first).'),
    ('SRP50', 'bad_input', 422, 'A value is missing, too long or out of range.')
on conflict (sqlstate) do update
    set name = excluded.name, http_status = excluded.http_status, description = excluded.description;

-- The input check every api function that takes text uses (orders, entries, vault).
create or replace function private.check_field_text(p_name text, p_value text, p_max integer, p_required boolean)
returns void
language plpgsql immutable
set search_path = ''
as $$
begin
    if p_required and (p_value is null or pg_catalog.btrim(p_value) = '') then
        raise exception '% is required', p_name using errcode = 'SRP50';
    end if;
    if pg_catalog.length(p_value) > p_max then
        raise exception '% is too long: at most % characters', p_name, p_max using errcode = 'SRP50';
    end if;
end
$$;
comment on function private.check_field_text(text, text, integer, boolean) is
    'Input policy for text arguments: required and length, with a message naming the field (SRP50).';

-- The page size of the api functions that list (orders, entries, vault items).
create or replace function private.check_page_limit(p_limit integer) returns void
language plpgsql immutable
set search_path = ''
as $$
begin
    if p_limit is null or p_limit < 1 or p_limit > 500 then
        raise exception 'limit must be between 1 and 500' using errcode = 'SRP50';
    end if;
end
$$;
comment on function private.check_page_limit(integer) is 'A page holds 1 to 500 rows (SRP50 otherwise).';

-- Deleting one of the caller's own rows (entries, vault): an id that is not theirs, or no such id, deletes
-- nothing and logs the refusal (private.log_access_refused), which then commits with the request.
create or replace function private.delete_own_row(p_table text, p_id integer) returns integer
language plpgsql volatile
set search_path = ''
as $$
declare
    v_id integer;
begin
    execute pg_catalog.format('delete from public.%I x where x.id = $1 and x.user_id = $2 returning x.id', p_table)
       into v_id using p_id, private.require_caller();
    if v_id is null then
        perform private.log_access_refused(p_table, p_id);
    end if;
    return v_id;
end
$$;
comment on function private.delete_own_row(text, integer) is
    'Delete row p_id of public.p_table if it is the caller''s and return its id; else null, the refusal logged.';

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
