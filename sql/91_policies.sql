-- Row-level security: every table's switch and policies, one section per table, beside the grants
-- (90_grants.sql) so that who may see which row reads in one sitting.
--
-- Every policy reads the caller one way: the private.caller_*() getters (sql/10_context.sql), which read
-- the request context that api.begin_request wrote and no caller can change. They are written as
-- `(select private.caller_id())` so PostgreSQL evaluates them once per query, not once per row.
--
-- The user-owned tables FORCE row-level security, so the owner (and so every security definer function)
-- is held to the caller too; superusers (DBAs in psql) bypass it. The log tables ENABLE it without
-- forcing: the owner writes them from triggers, and what they hold is read by the auditor only.

-- public.users ---------------------------------------------------------------------------------------
alter table public.users enable row level security;
alter table public.users force row level security;

drop policy if exists users_self_or_admin_read on public.users;
create policy users_self_or_admin_read on public.users for select
    using (id = (select private.caller_id()) or (select private.caller_role()) = 'admin');
drop policy if exists users_self_or_admin_update on public.users;
create policy users_self_or_admin_update on public.users for update
    using (id = (select private.caller_id()) or (select private.caller_role()) = 'admin');
drop policy if exists users_auth_subject on public.users;
create policy users_auth_subject on public.users for all
    using (id = (select private.subject_id())
           or lower(username) = lower((select private.subject_name())));
comment on policy users_auth_subject on public.users is
    'Login, registration and session opening (no caller yet) see the one row they name in the request context.';
drop policy if exists users_register on public.users;
create policy users_register on public.users for insert with check (true);
drop policy if exists users_auditor_names on public.users;
create policy users_auditor_names on public.users for select to strongroom_auditor
    using ((select private.acting_as('auditor')));
comment on policy users_auditor_names on public.users is
    'The auditor may read every user row, through its column grant: id and username only (audit.audit_trail).';

-- public.entries -------------------------------------------------------------------------------------
alter table public.entries enable row level security;
alter table public.entries force row level security;

drop policy if exists entries_owner on public.entries;
create policy entries_owner on public.entries for all
    using (user_id = (select private.caller_id()))
    with check (user_id = (select private.caller_id()));
drop policy if exists entries_admin_read on public.entries;
create policy entries_admin_read on public.entries for select
    using ((select private.caller_role()) = 'admin');

-- public.orders --------------------------------------------------------------------------------------
alter table public.orders enable row level security;
alter table public.orders force row level security;

drop policy if exists orders_owner on public.orders;
create policy orders_owner on public.orders for all
    using (user_id = (select private.caller_id()))
    with check (user_id = (select private.caller_id()));
drop policy if exists orders_admin_read on public.orders;
create policy orders_admin_read on public.orders for select
    using ((select private.caller_role()) = 'admin');
drop policy if exists orders_admin_update on public.orders;
create policy orders_admin_update on public.orders for update
    using ((select private.caller_role()) = 'admin')
    with check ((select private.caller_role()) = 'admin');

-- public.vault ---------------------------------------------------------------------------------------
-- No admin clause: an admin manages keys, not other people's passwords.
alter table public.vault enable row level security;
alter table public.vault force row level security;

drop policy if exists vault_owner on public.vault;
create policy vault_owner on public.vault as permissive for all
    using (user_id = (select private.caller_id()))
    with check (user_id = (select private.caller_id()));

-- Key maintenance, on every table with an encrypted column (private.encrypted_columns, sql/30_crypto.sql):
-- while a key function runs, the owner sees every row of it.
do $$
declare
    v_table text;
begin
    for v_table in select distinct c.table_name from private.encrypted_columns c order by 1 loop
        execute pg_catalog.format('drop policy if exists key_maintenance on public.%I', v_table);
        execute pg_catalog.format(
            'create policy key_maintenance on public.%I as permissive for all to strongroom_owner'
            ' using ((select private.key_maintenance())) with check ((select private.key_maintenance()))', v_table);
    end loop;
end
$$;

-- The log tables and the seal's tables -----------------------------------------------------------------
-- Read by the auditor role only (90_grants.sql); a session of the API's login holds that role only with a
-- context begin_request verified for an auditor. The api functions that show a user their own events
-- (api.list_logs) run as the owner, who is not held to these policies.
do $$
declare
    v_table text;
begin
    foreach v_table in array array['public.logs', 'public.order_logs', 'public.key_logs', 'audit.seal_blocks',
                             'audit.retired_partitions'] loop
        execute pg_catalog.format('alter table %s enable row level security', v_table);
        execute pg_catalog.format('drop policy if exists auditor_read on %s', v_table);
        execute pg_catalog.format('create policy auditor_read on %s for select to strongroom_auditor '
                                  'using ((select private.acting_as(''auditor'')))', v_table);
    end loop;
end
$$;
