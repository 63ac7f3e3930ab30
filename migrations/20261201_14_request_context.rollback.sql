-- The getters of sql/10_context.sql read private.current_context, and the policies call them while the
-- earlier migrations roll back: the view is left answering "no context" until the table is back.
create or replace view private.current_context as
    select null::int as backend_pid, null::xid8 as xact_id, null::text as db_role, null::int as user_id,
           null::text as role, null::int as token_version, null::uuid as session_id, null::text as request_id,
           null::text as client_request_id, null::inet as client_addr, null::int as authenticated_user,
           null::int as subject_id, null::text as subject_name
     where false;
drop table if exists private.request_context;
drop table if exists private.maintenance_secret;
