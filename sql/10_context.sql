-- The request context: who is calling, in this transaction only.
--
-- The API calls api.begin_request(...) first in every transaction; it stores the caller in
-- transaction-local settings (set_config(..., true)), so nothing survives COMMIT on a pooled connection.
-- Every api function reads the caller through these getters, never from an argument.

create or replace function private.caller_id() returns int
language sql stable parallel safe
set search_path = ''
as $$ select nullif(pg_catalog.current_setting('strongroom.user_id', true), '')::int $$;
comment on function private.caller_id() is 'The calling user''s id, or null outside a request.';

create or replace function private.caller_role() returns text
language sql stable parallel safe
set search_path = ''
as $$ select nullif(pg_catalog.current_setting('strongroom.role', true), '') $$;
comment on function private.caller_role() is 'The calling user''s role (user, admin, auditor), or null outside a request.';

create or replace function private.request_id() returns text
language sql stable parallel safe
set search_path = ''
as $$ select nullif(pg_catalog.current_setting('strongroom.request_id', true), '') $$;
comment on function private.request_id() is 'The request id that joins HTTP logs, audit rows and error reports.';

create or replace function private.client_addr() returns inet
language sql stable parallel safe
set search_path = ''
as $$ select nullif(pg_catalog.current_setting('strongroom.client_addr', true), '')::inet $$;
comment on function private.client_addr() is 'The client''s address as the API saw it, or null.';

create or replace function private.master_key() returns text
language plpgsql stable
set search_path = ''
as $$
declare
    key text := nullif(pg_catalog.current_setting('strongroom.master_key', true), '');
begin
    if key is null then
        raise exception 'the master key is not available in this transaction'
            using errcode = 'SRK01',
                  hint = 'The API sets strongroom.master_key per transaction; from psql use the strongroom command line.';
    end if;
    return key;
end
$$;
comment on function private.master_key() is 'The master key, set by the API for this transaction only; never stored.';

insert into private.error_codes (sqlstate, name, http_status, description) values
    ('SRK01', 'master_key_missing', 503, 'The server did not pass the master key for this transaction.')
on conflict (sqlstate) do update
    set name = excluded.name, http_status = excluded.http_status, description = excluded.description;
