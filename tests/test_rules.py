"""Each list and limit Python mirrors (api/rules.py) is the database's own: read from the catalog, or probed at
its boundary, so a change on one side without the other fails here."""

from __future__ import annotations

import re

import psycopg
import pytest

from api import rules
from tests.sql.crypto_support import caller, ensure_key, make_user


def constraint(db: psycopg.Connection, name: str) -> str:
    row = db.execute("select pg_get_constraintdef(oid) from pg_constraint where conname = %s", [name]).fetchone()
    assert row is not None, f"no constraint {name}"
    return str(row[0])


def quoted(definition: str) -> set[str]:
    return set(re.findall(r"'([^']*)'::(?:text|character varying)", definition))


def sqlstate(db: psycopg.Connection, query: str, params: list[object]) -> str | None:
    try:
        with db.transaction():
            db.execute(query, params)
    except psycopg.Error as error:
        return error.sqlstate
    return None


def test_the_roles_are_the_databases(db):
    assert db.execute("select private.roles()").fetchone()[0] == list(rules.ROLES)
    assert quoted(constraint(db, "users_role_known")) == set(rules.ROLES)


@pytest.mark.parametrize("role", rules.ROLES)
def test_begin_request_knows_every_role(db, role):
    # The role is checked before the user: an unknown user (SRA04) means the role passed.
    assert sqlstate(db, "select api.begin_request(424242, %s, 1)", [role]) == "SRA04"


def test_begin_request_refuses_a_role_that_is_not_one(db):
    assert sqlstate(db, "select api.begin_request(424242, 'root', 1)", []) == "SRA05"


def test_the_order_statuses_are_the_databases(db):
    assert db.execute("select private.order_statuses()").fetchone()[0] == list(rules.ORDER_STATUSES)
    assert quoted(constraint(db, "orders_status_known")) == set(rules.ORDER_STATUSES)


def test_the_username_shape_is_the_databases(db):
    assert f"'{rules.USERNAME_PATTERN}'" in constraint(db, "users_username_format")
    source = db.execute("select prosrc from pg_proc where oid = 'private.create_user'::regproc").fetchone()[0]
    assert f"'{rules.USERNAME_PATTERN}'" in source
    shape = re.compile(rules.USERNAME_PATTERN)
    assert shape.match("a" * rules.USERNAME_MIN) and not shape.match("a" * (rules.USERNAME_MIN - 1))
    assert shape.match("a" * rules.USERNAME_MAX) and not shape.match("a" * (rules.USERNAME_MAX + 1))


def password(length: int) -> str:
    return ("Zq7#vW2!kP9@" * 30)[:length]


def test_the_password_length_is_the_databases(db):
    policy = "select private.check_password_policy(%s, null)"
    assert sqlstate(db, policy, [password(rules.PASSWORD_MIN - 1)]) == "SRP12"
    assert sqlstate(db, policy, [password(rules.PASSWORD_MIN)]) is None
    assert sqlstate(db, policy, [password(rules.PASSWORD_MAX)]) is None
    assert sqlstate(db, policy, [password(rules.PASSWORD_MAX + 1)]) == "SRP13"


def test_the_description_length_is_the_databases(db):
    ensure_key(db)
    alice = make_user(db, "alice")
    create = "select * from api.create_order(%s, false)"
    with caller(db, alice):
        db.execute(create, ["d" * rules.DESCRIPTION_MAX])
    with pytest.raises(psycopg.Error) as refused, caller(db, alice):
        db.execute(create, ["d" * (rules.DESCRIPTION_MAX + 1)])
    assert refused.value.sqlstate == "SRP50"


@pytest.mark.parametrize(("length", "expected"), [
    (rules.GENERATED_MIN - 1, "SRP52"), (rules.GENERATED_MIN, None),
    (rules.GENERATED_MAX, None), (rules.GENERATED_MAX + 1, "SRP52"),
])
def test_the_generator_range_is_the_databases(db, length, expected):
    alice = make_user(db, "alice")
    try:
        with caller(db, alice):
            db.execute("select api.generate_password(%s)", [length])
        got = None
    except psycopg.Error as error:
        got = error.sqlstate
    assert got == expected


def test_the_disabled_account_text_is_the_databases(db):
    row = db.execute("select name, description from private.error_codes where sqlstate = 'SRA03'").fetchone()
    assert row == ("account_disabled", rules.ACCOUNT_DISABLED)
