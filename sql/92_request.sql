-- One statement per API call: request.<name>(the request's context, then the arguments of api.<name>).
--
-- A call with a caller used to be four statements in one transaction: BEGIN; api.begin_request(...) with
-- the master key and read-only settings; api.<name>(...); COMMIT. The API sends request.<name>(...)
-- instead, one prepared statement in autocommit: one Parse/Bind/Execute/Sync, committed before its
-- answer is complete (a COMMIT that fails still reaches the API as an error, never as rows).
--
-- Why a function per api function rather than `select ... from api.begin_request(...), api.<name>(...)`:
-- PostgreSQL checks EXECUTE on each function of a statement when the statement starts, as the session's
-- role (the authenticator, before begin_request switched to the caller's role); and a STABLE function
-- reads with the snapshot of the statement that calls it, taken before begin_request wrote the context,
-- so it would find no caller. Inside request.<name> (plpgsql, volatile) the call of api.<name> is a
-- statement of its own that starts after the switch: its EXECUTE is checked for the caller's role, and
-- its snapshot shows the context.
--
-- Why the authenticator may execute them: each does nothing before api.begin_request, which the
-- authenticator may already call and which refuses a missing, unknown, stale or foreign caller (SRA01-SRA07)
-- and raises, so nothing after it runs. From then on the session has the caller's role, and api.<name> runs
-- exactly as in the four-statement transaction: under the caller's grants, row-level security and the
-- function's own checks. request.<name> lets the authenticator do nothing that begin_request followed by
-- the function could not (tests/sql/test_request.py calls each one from the catalog).
--
-- Made from the catalog after the grants (90_grants.sql): one for every api function some caller role may
-- execute, with its arguments (and defaults) and its result, re-made on every migrate.

do $$
declare
    v_old regprocedure;
    v_fn record;
    v_call text;
    v_body text;
    v_signature text;
    v_identity text;
begin
    for v_old in select p.oid::regprocedure from pg_catalog.pg_proc p where p.pronamespace = 'request'::regnamespace
    loop
        execute pg_catalog.format('drop function %s', v_old);
    end loop;
    for v_fn in
        select p.proname, p.pronargs, pg_catalog.pg_get_function_identity_arguments(p.oid) as identity, p.proretset, p.prorettype, p.provariadic,
               pg_catalog.pg_get_function_arguments(p.oid) as args,
               pg_catalog.pg_get_function_result(p.oid) as result,
               coalesce('o' = any (p.proargmodes) or 'b' = any (p.proargmodes), false) as has_out
          from pg_catalog.pg_proc p
         where p.pronamespace = 'api'::regnamespace and p.prokind = 'f'
           and exists (select 1 from pg_catalog.unnest(array['strongroom_user', 'strongroom_admin', 'strongroom_auditor']) r
                        where pg_catalog.has_function_privilege(r, p.oid, 'execute'))
         order by p.proname
    loop
        if v_fn.provariadic <> 0 or (v_fn.has_out and not v_fn.proretset) then
            raise exception 'api.% has a variadic or OUT argument: sql/92_request.sql cannot wrap it', v_fn.proname;
        end if;
        -- The function's own arguments follow the nine of the context: $10, $11, ...
        v_call := pg_catalog.format('api.%I(%s)', v_fn.proname,
                                    (select coalesce(pg_catalog.string_agg('$' || n, ', '), '')
                                       from pg_catalog.generate_series(10, 9 + v_fn.pronargs) n));
        v_body := case when v_fn.proretset then 'return query select * from ' || v_call
                       when v_fn.prorettype = 'pg_catalog.void'::pg_catalog.regtype then 'perform ' || v_call
                       else 'return ' || v_call end;
        v_signature := 'p_ctx_user_id int, p_ctx_role text, p_ctx_token_version int, p_ctx_request_id text, '
                       'p_ctx_client_addr inet, p_ctx_session_id uuid, p_ctx_client_request_id text, '
                       'p_ctx_master_key text, p_ctx_read_only boolean'
                       || case when v_fn.args = '' then '' else ', ' || v_fn.args end;
        v_identity := 'int, text, int, text, inet, uuid, text, text, boolean'
                      || case when v_fn.identity = '' then '' else ', ' || v_fn.identity end;
        execute pg_catalog.format($fn$
create function request.%1$I(%2$s) returns %3$s
language plpgsql volatile
set search_path = ''
as $body$
begin
    perform api.begin_request(p_ctx_user_id, p_ctx_role, p_ctx_token_version, p_ctx_request_id,
                              p_ctx_client_addr, p_ctx_session_id, p_ctx_client_request_id);
    if p_ctx_master_key <> '' then
        perform pg_catalog.set_config('strongroom.master_key', p_ctx_master_key, true);
    end if;
    if p_ctx_read_only then
        perform pg_catalog.set_config('transaction_read_only', 'on', true);
    end if;
    %4$s;
end
$body$
$fn$, v_fn.proname, v_signature, v_fn.result, v_body);
        execute pg_catalog.format(
            'comment on function request.%I(%s) is %L', v_fn.proname, v_identity,
            pg_catalog.format('api.%s as one statement: api.begin_request with the first seven arguments, the '
                              'master key (when not empty) and read-only flag for this transaction, then '
                              'api.%s in the caller''s role with the rest.', v_fn.proname, v_fn.proname));
    end loop;
end
$$;

-- Nobody but the authenticator (see 90_grants.sql for its usage of the schema).
revoke execute on all functions in schema request from public;
grant execute on all functions in schema request to strongroom_authenticator;
