-- The cluster-wide roles. Run by `strongroom db migrate` as the connecting (administrative) user before
-- any migration, because roles belong to the cluster, not to one database, and the same cluster may hold
-- several Strongroom databases (the test suite clones one per test). Idempotent.
--
--   strongroom_owner          owns every schema, table and function; migrations run as it. NOLOGIN.
--   strongroom_authenticator  what the API logs in as. It has no privileges of its own: it can only
--                             switch (SET ROLE, via api.begin_request) to one of the caller roles.
--   strongroom_user           an operator: their own orders, notes and vault items.
--   strongroom_admin          also keys and user administration.
--   strongroom_auditor        DBAs: read-only on logs and audit views, never decryption.

do $$
declare
    r record;
begin
    for r in
        select * from (values
            ('strongroom_owner', 'nologin'),
            ('strongroom_authenticator', 'login noinherit'),
            ('strongroom_user', 'nologin'),
            ('strongroom_admin', 'nologin'),
            ('strongroom_auditor', 'nologin')
        ) as roles (name, options)
    loop
        if not exists (select 1 from pg_catalog.pg_roles where rolname = r.name) then
            execute format('create role %I %s', r.name, r.options);
        end if;
    end loop;
end
$$;

comment on role strongroom_owner is 'Owns every Strongroom schema, table and function; migrations run as it.';
comment on role strongroom_authenticator is 'The API''s login: no privileges except switching to a caller role.';
comment on role strongroom_user is 'Caller role of an operator: their own rows only (row-level security).';
comment on role strongroom_admin is 'Caller role of an administrator: keys and user administration.';
comment on role strongroom_auditor is 'Caller role of a DBA or auditor: read-only on logs and audit views, no decryption.';

grant strongroom_user, strongroom_admin, strongroom_auditor to strongroom_authenticator;

-- The connecting user runs migrations as the owner (SET ROLE), so it must be a member that may SET it. From
-- PostgreSQL 16 a CREATEROLE login that created the role holds only ADMIN on it (no SET, no INHERIT), which
-- pg_has_role(..., 'member') counts: ask for 'set' there, so that login grants itself the membership.
do $$
declare
    wanted text := case when pg_catalog.current_setting('server_version_num')::int >= 160000 then 'set'
                        else 'member' end;
begin
    if current_user <> 'strongroom_owner' and not pg_catalog.pg_has_role(current_user, 'strongroom_owner', wanted) then
        execute format('grant strongroom_owner to %I', current_user);
    end if;
end
$$;

-- Accounts: limits for the runtime roles, so a runaway statement or a transaction left open cannot hold
-- locks for long. Role settings take effect for the role a session logs in as: the authenticator's are
-- the ones every API session runs under (SET ROLE to a caller role keeps them). The caller roles cannot
-- log in; they carry the same values so that `\drds` shows one rule for every runtime role.
alter role strongroom_authenticator set statement_timeout = '30s';
alter role strongroom_authenticator set idle_in_transaction_session_timeout = '60s';
alter role strongroom_user set statement_timeout = '30s';
alter role strongroom_user set idle_in_transaction_session_timeout = '60s';
alter role strongroom_admin set statement_timeout = '30s';
alter role strongroom_admin set idle_in_transaction_session_timeout = '60s';
alter role strongroom_auditor set statement_timeout = '30s';
alter role strongroom_auditor set idle_in_transaction_session_timeout = '60s';
