"""Who may execute, read or write what, read from the catalog so a new object is covered the day it appears."""

from __future__ import annotations

import psycopg
import pytest

from tests.sql.accounts_support import begin_request, register

OUR_SCHEMAS = ("api", "private", "audit", "public", "request")
CALLER_ROLES = ("strongroom_user", "strongroom_admin", "strongroom_auditor")
RUNTIME_ROLES = ("strongroom_authenticator", *CALLER_ROLES)
# What the API may do before a caller exists: start a request, register, log in, check readiness.
AUTHENTICATOR_API = {"begin_request", "begin_anonymous_request", "register", "login", "installed_code"}
# API support (sql/60_api_sessions.sql): the error table, opening and refreshing sessions, housekeeping.
AUTHENTICATOR_API |= {"error_codes", "open_session", "refresh_session", "purge_expired_sessions"}
# Readiness and `strongroom serve`: does the configured master key match the active data key (53_api_keys.sql).
AUTHENTICATOR_API |= {"master_key_matches"}
# The private functions a runtime role runs: the request context's getters (policies call them in the
# caller's name), and, for the caller roles, begin_request's second half (refused after the first call).
AUTHENTICATOR_PRIVATE = {"caller_id", "caller_role", "subject_id", "subject_name", "acting_as"}
CALLER_PRIVATE = AUTHENTICATOR_PRIVATE | {"open_request"}
# The one view of private a runtime role reads: its own request context (sql/10_context.sql).
CONTEXT_VIEW = "private.current_context"
# The auditor's read-only window: the log tables, and whatever the audit schema shows.
AUDITOR_READS = {"public.logs", "public.key_logs", "public.order_logs"}
# Tables with a user_id that records who acted rather than who owns the row.
NOT_USER_OWNED = {"logs"}


def our_functions(db: psycopg.Connection) -> list[tuple[str, str, str]]:
    return db.execute("""
        select n.nspname, p.proname, p.oid::regprocedure::text
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = any(%s)
    """, [list(OUR_SCHEMAS)]).fetchall()


def test_no_function_is_executable_by_public(db):
    """pgcrypto's own functions are left out: a trusted extension's objects belong to the bootstrap
    superuser, not to us, and they hold no data (a runtime role that calls one learns nothing)."""
    public_ones = db.execute("""
        select p.oid::regprocedure::text
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace,
             aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) acl
        where n.nspname = any(%s) and acl.grantee = 0 and acl.privilege_type = 'EXECUTE'
          and not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass
                          and d.objid = p.oid and d.deptype = 'e')
    """, [list(OUR_SCHEMAS)]).fetchall()
    assert our_functions(db), "the catalog query found no functions at all"
    assert public_ones == []


def test_every_security_definer_function_pins_search_path(db):
    unpinned = db.execute("""
        select p.oid::regprocedure::text
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where p.prosecdef and n.nspname not in ('pg_catalog', 'information_schema')
          and not exists (select 1 from unnest(coalesce(p.proconfig, '{}')) c where c like 'search_path=%%')
    """).fetchall()
    definers = db.execute("select count(*) from pg_proc where prosecdef").fetchone()
    assert definers is not None and definers[0] > 0
    assert unpinned == []


def test_every_function_in_our_code_schemas_pins_search_path(db):
    # Two kinds of function cannot carry a SET clause, and say so in their comment ("no SET clause"): a
    # procedure that COMMITs (PostgreSQL forbids both together), and the encryption hot path, which must
    # be inlined into its callers (sql/30_crypto.sql). Neither may be security definer.
    unpinned = db.execute("""
        select p.oid::regprocedure::text
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname in ('api', 'private', 'audit', 'request')
          and not exists (select 1 from unnest(coalesce(p.proconfig, '{}')) c where c like 'search_path=%%')
          and (p.prosecdef or coalesce(obj_description(p.oid, 'pg_proc'), '') not like '%%no SET clause%%')
    """).fetchall()
    assert unpinned == []


def test_runtime_roles_hold_table_privileges_only_where_row_level_security_is_forced(db):
    grants = db.execute("""
        select r.rolname, n.nspname || '.' || c.relname, c.relkind::text,
               c.relrowsecurity and c.relforcerowsecurity, priv
        from pg_class c join pg_namespace n on n.oid = c.relnamespace,
             unnest(%s::text[]) r(rolname),
             unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) priv
        where n.nspname = any(%s) and c.relkind in ('r', 'p', 'v', 'm', 'f', 'S')
          and has_table_privilege(r.rolname, c.oid, priv)
    """, [list(RUNTIME_ROLES), list(OUR_SCHEMAS)]).fetchall()
    wrong = []
    for role, relation, kind, forced, privilege in grants:
        auditor_read = (role == "strongroom_auditor" and privilege == "SELECT"
                        and (relation in AUDITOR_READS or relation.startswith("audit.")))
        caller_on_guarded_table = role in CALLER_ROLES and kind in ("r", "p") and forced
        own_context = relation == CONTEXT_VIEW and privilege == "SELECT"
        if not (auditor_read or caller_on_guarded_table or own_context):
            wrong.append((role, relation, privilege))
    assert wrong == []


def test_user_owned_tables_force_row_level_security_and_index_their_owner(db):
    tables = db.execute("""
        select c.relname, c.relrowsecurity, c.relforcerowsecurity,
               exists (select 1 from pg_index i
                       where i.indrelid = c.oid and i.indkey[0] = a.attnum) as owner_indexed
        from pg_class c
        join pg_namespace n on n.oid = c.relnamespace and n.nspname = 'public'
        join pg_attribute a on a.attrelid = c.oid and a.attname = 'user_id'
        join pg_constraint fk on fk.conrelid = c.oid and fk.contype = 'f' and fk.conkey = array[a.attnum]
             and fk.confrelid = 'public.users'::regclass
        where c.relkind = 'r' and not c.relispartition
    """).fetchall()
    owned = {name: rest for name, *rest in tables if name not in NOT_USER_OWNED}
    assert {"entries", "orders"} <= owned.keys()
    assert {name: rest for name, rest in owned.items() if rest != [True, True, True]} == {}
    users = db.execute("select relrowsecurity, relforcerowsecurity from pg_class "
                       "where oid = 'public.users'::regclass").fetchone()
    assert users == (True, True)


def test_private_is_closed_to_runtime_roles_but_for_the_request_context(db):
    reach = db.execute("""
        select r.rolname, p.proname
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace and n.nspname = 'private',
             unnest(%s::text[]) r(rolname)
        where has_function_privilege(r.rolname, p.oid, 'execute')
    """, [list(RUNTIME_ROLES)]).fetchall()
    assert set(reach) == ({("strongroom_authenticator", name) for name in AUTHENTICATOR_PRIVATE}
                          | {(role, name) for role in CALLER_ROLES for name in CALLER_PRIVATE})
    usage = db.execute("select r from unnest(%s::text[]) r where has_schema_privilege(r, 'private', 'usage')",
                       [list(RUNTIME_ROLES)]).fetchall()
    assert usage == [(role,) for role in RUNTIME_ROLES]


def test_the_authenticator_may_call_only_the_functions_before_a_caller(db):
    callable_ = db.execute("""
        select p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace and n.nspname = 'api'
        where has_function_privilege('strongroom_authenticator', p.oid, 'execute')
    """).fetchall()
    assert {name for (name,) in callable_} == AUTHENTICATOR_API


@pytest.mark.parametrize("role", CALLER_ROLES)
def test_caller_roles_cannot_start_another_request(db, role):
    assert db.execute("select has_function_privilege(%s, 'api.begin_request(int, text, int, text, inet, uuid, text)', "
                      "'execute')", [role]).fetchone() == (False,)


@pytest.mark.parametrize("role", ["strongroom_user", "strongroom_auditor"])
def test_admin_functions_are_the_admins_alone(db, role):
    for function in ("api.list_users()", "api.disable_user(int)", "api.enable_user(int)",
                     "api.unlock_user(int)", "api.set_role(int, text)"):
        assert db.execute("select has_function_privilege(%s, %s, 'execute')", [role, function]).fetchone() == (
            False,), function


def test_the_authenticator_has_no_privileges_of_its_own(db):
    row = db.execute("""
        select rolcanlogin, rolinherit, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolreplication,
               array(select b.rolname::text from pg_auth_members m join pg_roles b on b.oid = m.roleid
                     where m.member = r.oid order by 1)
        from pg_roles r where rolname = 'strongroom_authenticator'
    """).fetchone()
    assert row == (True, False, False, False, False, False, False, sorted(CALLER_ROLES))


@pytest.mark.parametrize("role", CALLER_ROLES)
def test_caller_roles_cannot_log_in_or_bypass_row_level_security(db, role):
    assert db.execute("select rolcanlogin, rolbypassrls, rolsuper from pg_roles where rolname = %s",
                      [role]).fetchone() == (False, False, False)


@pytest.mark.parametrize("role", RUNTIME_ROLES)
def test_runtime_roles_have_statement_and_idle_timeouts(db, role):
    row = db.execute("""
        select array(select split_part(c, '=', 1) from pg_db_role_setting s, unnest(s.setconfig) c
                     where s.setrole = %s::regrole and s.setdatabase = 0 order by 1)
    """, [role]).fetchone()
    assert row is not None
    assert {"statement_timeout", "idle_in_transaction_session_timeout"} <= set(row[0])


def test_the_owner_owns_every_table_function_and_schema_of_ours(db):
    foreign = db.execute("""
        select 'schema ' || nspname from pg_namespace
        where nspname in ('api', 'private', 'audit') and nspowner <> 'strongroom_owner'::regrole
        union all
        select 'relation ' || c.oid::regclass::text from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname in ('api', 'private', 'audit', 'public') and c.relowner <> 'strongroom_owner'::regrole
        union all
        select 'function ' || p.oid::regprocedure::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname in ('api', 'private', 'audit') and p.proowner <> 'strongroom_owner'::regrole
    """).fetchall()
    assert foreign == []


# The same rules, seen from a session: permission denied, not an empty answer.

def test_the_authenticator_is_denied_the_tables_and_private(connect):
    conn = connect("strongroom_authenticator", autocommit=True)
    for statement in ("select * from public.users", "select * from public.orders",
                      "select * from private.auth_settings", "select * from private.request_context",
                      "select private.write_context(1, 'admin', 1, null, null, null, null)",
                      "select private.unlock_user(1)", "select * from api.list_users()", "select * from api.me()"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)


def test_a_caller_is_denied_the_users_table_and_private(db, connect):
    user_id = register(db, "alice")
    conn = connect("strongroom_authenticator")
    begin_request(conn, user_id)
    for statement in ("select * from public.users", "select * from public.aes_keys",
                      "select * from private.auth_settings", "select * from private.request_context",
                      "select private.write_context(1, 'admin', 1, null, null, null, null)",
                      "insert into public.orders (description) values ('x')"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
            conn.execute(statement)


def test_an_api_session_runs_under_the_timeouts_even_after_switching_role(db, connect):
    user_id = register(db, "alice")
    conn = connect("strongroom_authenticator")
    begin_request(conn, user_id)
    assert conn.execute("select current_setting('statement_timeout'), "
                        "current_setting('idle_in_transaction_session_timeout')").fetchone() == ("30s", "1min")
