"""The request context cannot be forged: catalog-driven, every table and every api function, every known trick.

The attacker is a user whose request the API began (api.begin_request) and who can run SQL statements in
it as the caller's role (an injection). Each forgery below is run in the attacker's transaction; then every
table any runtime role may read and every api function any runtime role may call is tried in the same
transaction. Nothing may show another user's secrets or rows, change who the caller is, or do an admin's
work. The same probes run on the API's login without begin_request. The tables and functions come from the
catalog, so a new one is covered the day it appears.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import psycopg
import pytest
from psycopg import sql

from api.testing.plugin import Account, begin_request
from tests.sql.crypto_support import MASTER_KEY, ensure_key

RUNTIME_ROLES = ("strongroom_authenticator", "strongroom_user", "strongroom_admin", "strongroom_auditor")
# Settings of earlier versions and of today: none of them may name the caller.
LEGACY_SETTINGS = ("user_id", "role", "token_version", "request_id", "client_addr", "auth_subject",
                   "key_maintenance")
# What a refused probe raises: no privilege, no caller, not the right role, not a key admin.
REFUSALS = {"42501", "SRA01", "SRF01", "SRF51"}


@dataclass
class Victim:
    """Alice's things, which Bob must never reach, and the strings that would show he did."""

    account: Account
    order_id: int
    entry_id: int
    vault_id: int
    site: str
    secrets: tuple[str, ...]


def one(conn: psycopg.Connection, statement: str, params: list[object] | None = None) -> tuple:
    row = conn.execute(statement, params or []).fetchone()
    assert row is not None
    return tuple(row)


@pytest.fixture
def victim(db: psycopg.Connection, make_account: Callable[..., Account],
           act_as: Callable[..., psycopg.Connection]) -> Victim:
    ensure_key(db)
    alice = make_account("alice", password="her own long passphrase")
    conn = act_as(alice)
    conn.execute("select set_config('strongroom.master_key', %s, true)", [MASTER_KEY])
    order = one(conn, "select id from api.create_order('ALICE-ORDER-DESCRIPTION', true)")[0]
    entry = one(conn, "select id from api.create_entry('ALICE-ENTRY-TITLE', 'ALICE-ENTRY-CONTENT')")[0]
    vault = one(conn, "select id from api.save_vault_item('alice.example', 'ALICE-LOGIN', 'ALICE-SECRET',"
                      " 'ALICE-NOTE')")[0]
    conn.execute("select api.log_client_event('INFO', 'gui', 'ALICE-EVENT')")
    conn.commit()
    return Victim(alice, order, entry, vault, "alice.example",
                  ("ALICE-ORDER-DESCRIPTION", "ALICE-ENTRY-TITLE", "ALICE-ENTRY-CONTENT", "ALICE-LOGIN",
                   "ALICE-SECRET", "ALICE-NOTE", "ALICE-EVENT", "alice@"))


def readable_tables(db: psycopg.Connection) -> list[str]:
    rows = db.execute("""
        select distinct c.oid::regclass::text
          from pg_class c join pg_namespace n on n.oid = c.relnamespace, unnest(%s::text[]) r(rolname)
         where n.nspname in ('public', 'private', 'audit') and c.relkind in ('r', 'p', 'v', 'm')
           and not c.relispartition and has_table_privilege(r.rolname, c.oid, 'SELECT')
         order by 1
    """, [list(RUNTIME_ROLES)]).fetchall()
    return [name for (name,) in rows]


@dataclass
class Function:
    signature: str
    name: str
    types: list[str]


def callable_functions(db: psycopg.Connection) -> list[Function]:
    rows = db.execute("""
        select distinct p.oid::regprocedure::text, p.proname::text,
               array(select format_type(t, null) from unnest(p.proargtypes::oid[]) t)
          from pg_proc p join pg_namespace n on n.oid = p.pronamespace, unnest(%s::text[]) r(rolname)
         where n.nspname in ('api', 'audit', 'request') and p.prokind = 'f'
           and has_function_privilege(r.rolname, p.oid, 'EXECUTE')
         order by 1
    """, [list(RUNTIME_ROLES)]).fetchall()
    return [Function(signature, name, list(types)) for signature, name, types in rows]


def arguments(function: Function, victim: Victim) -> list[object]:
    """Arguments aimed at the victim: her ids, her site, her username."""
    aimed = {"order": victim.order_id, "entry": victim.entry_id, "vault": victim.vault_id}
    target = next((value for word, value in aimed.items() if word in function.name), victim.account.user_id)
    values: list[object] = []
    for type_ in function.types:
        if type_ in ("integer", "bigint", "smallint"):
            values.append(target)
        elif type_ == "text":
            values.append(victim.site if "vault" in function.name else victim.account.username)
        elif type_ == "boolean":
            values.append(False)
        elif type_ == "bytea":
            values.append(b"\x00" * 32)
        elif type_ == "uuid":
            values.append("00000000-0000-0000-0000-000000000000")
        elif type_ == "jsonb":
            values.append("{}")
        elif type_ == "interval":
            values.append("1 hour")
        elif type_ == "inet":
            values.append("192.0.2.1")
        elif type_.startswith("timestamp"):
            values.append(None)
        else:
            values.append(None)
    return values


def settings_in_code(db: psycopg.Connection) -> set[str]:
    """Every strongroom.* setting our functions read or write, and those earlier versions used."""
    rows = db.execute("""
        select distinct m[1] from pg_proc p join pg_namespace n on n.oid = p.pronamespace,
               regexp_matches(p.prosrc, 'strongroom\\.([a-z_]+)', 'g') m
         where n.nspname in ('api', 'private', 'audit')
    """).fetchall()
    return {name for (name,) in rows} | set(LEGACY_SETTINGS)


def forgeries(db: psycopg.Connection, victim: Victim, admin: Account) -> list[tuple[str, list[object]]]:
    alice = victim.account
    out: list[tuple[str, list[object]]] = []
    for setting in sorted(settings_in_code(db)):
        for value in (str(alice.user_id), "admin", alice.username, "on"):
            out.append(("select pg_catalog.set_config(%s, %s, true)", [f"strongroom.{setting}", value]))
    out += [
        ("select api.begin_request(%s, 'user', %s)", [alice.user_id, alice.token_version]),
        ("select api.begin_request(%s, 'admin', %s)", [admin.user_id, admin.token_version]),
        ("select pg_catalog.set_config('role', 'none', true), api.begin_request(%s, 'admin', %s)",
         [admin.user_id, admin.token_version]),
        ("select private.open_request(%s, 'user', %s, null, null, null, null)", [alice.user_id, alice.token_version]),
        ("select private.write_context(%s, 'admin', %s, null, null, null, null)", [admin.user_id, admin.token_version]),
        ("select api.begin_anonymous_request('forged')", []),
    ]
    for role in ("strongroom_admin", "strongroom_auditor", "strongroom_user", "none"):
        out.append(("select pg_catalog.set_config('role', %s, true)", [role]))
    out.append(("reset role", []))
    return out


def savepoint(conn: psycopg.Connection, statement: str | sql.Composed,
              params: list[object]) -> tuple[str | None, list[tuple]]:
    """Run one statement in a savepoint: its SQLSTATE (None if it ran) and the rows it returned."""
    try:
        with conn.transaction():
            cur = conn.execute(statement, params)
            return None, cur.fetchall() if cur.description else []
    except psycopg.Error as error:
        return error.sqlstate, []


def probe(conn: psycopg.Connection, db: psycopg.Connection, victim: Victim, attacker_id: int | None) -> Iterator[str]:
    """Every way the session could now reach what is not its own; yields what it reached."""
    conn.execute("select set_config('strongroom.master_key', %s, true)", [MASTER_KEY])
    identity = savepoint(conn, "select private.caller_id(), private.caller_role()", [])
    if identity[0] is None and identity[1] not in ([(attacker_id, "user")], [(None, None)]):
        yield f"the caller became {identity[1]}"
    alice = victim.account.user_id
    for table in readable_tables(db):
        _, rows = savepoint(conn, sql.SQL("select to_jsonb(t) from {} t").format(sql.SQL(table)), [])
        about_alice = [row for (row,) in rows if alice in (row.get("user_id"), row.get("actor_id"))
                       or (table == "public.users" and row.get("id") == alice)]
        leaked = [s for s in victim.secrets if s in repr(rows)]
        if about_alice or leaked:
            yield f"{table}: {len(about_alice)} rows about alice, {leaked}"
    for function in callable_functions(db):
        if function.name in ("begin_request", "begin_anonymous_request"):
            continue
        args = arguments(function, victim)
        placeholders = sql.SQL(", ").join([sql.Placeholder()] * len(args))
        schema, name = function.signature.split("(")[0].split(".")
        statement = sql.SQL("select * from {}.{}({})").format(sql.Identifier(schema), sql.Identifier(name),
                                                              placeholders)
        _, rows = savepoint(conn, statement, args)
        leaked = [s for s in victim.secrets if s in repr(rows)]
        if leaked:
            yield f"{function.signature} returned {leaked}"


def victims_things_unchanged(db: psycopg.Connection, victim: Victim) -> list[str]:
    alice = victim.account
    wrong = []
    if one(db, "select is_active, role, token_version from public.users where id = %s", [alice.user_id]) != (
            True, "user", alice.token_version):
        wrong.append("alice's account changed")
    if one(db, "select status from public.orders where id = %s", [victim.order_id]) != ("pending",):
        wrong.append("alice's order changed")
    if one(db, "select count(*) from public.entries where id = %s", [victim.entry_id]) != (1,):
        wrong.append("alice's entry is gone")
    if one(db, "select count(*) from public.vault where id = %s", [victim.vault_id]) != (1,):
        wrong.append("alice's vault item is gone")
    if one(db, "select count(*) from private.refresh_tokens where user_id = %s", [alice.user_id]) != (0,):
        wrong.append("a session was opened for alice")
    return wrong


def refreshed(db: psycopg.Connection, account: Account) -> Account:
    """The account at its current token version, as a fresh login would give it."""
    version = one(db, "select token_version from public.users where id = %s", [account.user_id])[0]
    return dataclasses.replace(account, token_version=version)


@pytest.fixture
def attacker(make_account: Callable[..., Account]) -> Account:
    return make_account("bob")


@pytest.fixture
def an_admin(make_account: Callable[..., Account]) -> Account:
    return make_account("root-admin", "admin")


def test_the_probes_see_what_a_forgery_would_show(db, victim, attacker, connect):
    """The probes can fail: a superuser session, which bypasses row-level security, is caught by them."""
    conn = connect()
    conn.execute("begin")
    assert list(probe(conn, db, victim, attacker.user_id))


def test_no_single_statement_in_a_users_request_reaches_another_user(db, victim, attacker, an_admin, connect):
    reached: list[str] = []
    for statement, params in forgeries(db, victim, an_admin):
        conn = connect("strongroom_authenticator")
        begin_request(conn, refreshed(db, attacker))  # the probes may have logged him out everywhere
        try:
            conn.execute(statement, params)
        except psycopg.Error:
            conn.rollback()  # refused: the transaction is over, and with it the attempt
            continue
        reached += [f"after {statement} {params}: {what}" for what in probe(conn, db, victim, attacker.user_id)]
        conn.commit()
        conn.close()
    assert reached == []
    assert victims_things_unchanged(db, victim) == []


def test_the_api_login_without_begin_request_reaches_no_user_data_and_no_admin_function(db, victim, an_admin,
                                                                                           connect):
    # Beginning a request for any user is what the API's login is trusted with (it holds the JWT secret);
    # every other forgery is tried.
    tricks = [(s, p) for s, p in forgeries(db, victim, an_admin) if "api.begin_request" not in s]
    reached: list[str] = []
    for statement, params in [("select 1", []), *tricks]:
        conn = connect("strongroom_authenticator")
        try:
            conn.execute(statement, params)
        except psycopg.Error:
            conn.rollback()
            continue
        reached += [f"after {statement} {params}: {what}" for what in probe(conn, db, victim, None)]
        conn.commit()
        conn.close()
    assert reached == []
    assert victims_things_unchanged(db, victim) == []


@pytest.mark.parametrize("role", ["strongroom_admin", "strongroom_auditor", "strongroom_user"])
def test_switching_role_leaves_the_caller_no_one(db, attacker, connect, role):
    conn = connect("strongroom_authenticator")
    begin_request(conn, attacker)
    conn.execute("select set_config('role', %s, true)", [role])
    assert one(conn, "select private.caller_id(), private.caller_role()") == (
        (attacker.user_id, "user") if role == "strongroom_user" else (None, None))


def test_every_admin_function_refuses_a_user_who_switched_to_the_admin_role(db, victim, attacker, connect):
    admin_only = db.execute("""
        select p.oid::regprocedure::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace
         where n.nspname = 'api' and p.prokind = 'f'
           and has_function_privilege('strongroom_admin', p.oid, 'EXECUTE')
           and not has_function_privilege('strongroom_user', p.oid, 'EXECUTE')
    """).fetchall()
    assert admin_only, "the catalog shows no admin function"
    functions = {f.signature: f for f in callable_functions(db)}
    outcomes = {}
    for (signature,) in admin_only:
        conn = connect("strongroom_authenticator")
        begin_request(conn, attacker)
        conn.execute("select set_config('role', 'strongroom_admin', true),"
                     " set_config('strongroom.master_key', %s, true)", [MASTER_KEY])
        function = functions[signature]
        args = arguments(function, victim)
        name = sql.SQL("{}.{}").format(*(sql.Identifier(p) for p in signature.split("(")[0].split(".")))
        state, _ = savepoint(conn, sql.SQL("select * from {}({})").format(
            name, sql.SQL(", ").join([sql.Placeholder()] * len(args))), args)
        outcomes[signature] = state
        conn.rollback()
    assert {s: state for s, state in outcomes.items() if state not in REFUSALS} == {}
