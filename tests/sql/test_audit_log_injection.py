"""Log injection: no control character but tab reaches a log table, whoever writes the row (sql/40_audit.sql)."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from api.testing.plugin import AUTHENTICATOR, TEST_PEPPER, Account
from tests.sql.crypto_support import MASTER_KEY, ensure_key, raises_sqlstate

NASTY = "line one\nforged line\r\x1b[2J\x07bell\x9bcsi\x7fdel\tkept tab"
SHOWN = "line one\\x0aforged line\\x0d\\x1b[2J\\x07bell\\x9bcsi\\x7fdel\tkept tab"
CONTROL = "[\x01-\x08\x0a-\x1f\x7f-\x9f]"


def test_the_printable_form_escapes_every_c0_and_c1_control_but_tab(db: psycopg.Connection) -> None:
    assert db.execute("select audit.printable(%s)", [NASTY]).fetchone() == (SHOWN,)
    every = "".join(chr(c) for c in [*range(1, 32), *range(0x7f, 0xa0)])
    shown = db.execute("select audit.printable(%s)", [every]).fetchone()[0]
    assert db.execute("select %s ~ %s", [shown, CONTROL]).fetchone() == (False,)
    assert "\t" in shown and shown.count("\\x") == len(every) - 1


def test_a_log_event_with_control_characters_is_stored_escaped(db: psycopg.Connection) -> None:
    db.execute("select private.log_event('INFO', 'test', 'injected', %s, jsonb_build_object(%s::text, %s::text), null)",
               [NASTY, NASTY, NASTY])
    row = db.execute("select message, details from public.logs where action = 'injected'").fetchone()
    assert row == (SHOWN, {SHOWN: SHOWN})


def test_an_order_description_reaches_its_audit_images_escaped(db: psycopg.Connection, make_account,
                                                                act_as) -> None:
    ensure_key(db)
    alice: Account = make_account("alice")
    conn = act_as(alice)
    conn.execute("select set_config('strongroom.master_key', %s, true)", [MASTER_KEY])
    conn.execute("select api.create_order(%s, false)", [NASTY])
    conn.commit()
    stored = db.execute("select count(*) from public.orders where description = %s", [NASTY]).fetchone()
    image = db.execute("select after_image->>'description' from public.logs where table_name = 'orders'").fetchone()
    assert stored == (1,) and image == (SHOWN,)
    assert db.execute("select count(*) from public.logs l where to_jsonb(l)::text ~ %s", [CONTROL]).fetchone() == (0,)
    assert db.execute("select ok from audit.verify()").fetchone() == (True,)


@pytest.mark.parametrize("field", ["component", "message"])
def test_a_client_event_with_a_control_character_is_refused(db: psycopg.Connection, make_account, act_as,
                                                            field: str) -> None:
    conn = act_as(make_account("alice"))
    values = {"component": "gui", "message": "hello"} | {field: "two\nlines"}
    with raises_sqlstate("SRP92"):
        conn.execute("select api.log_client_event('INFO', %s, %s)", [values["component"], values["message"]])


def test_request_ids_with_control_characters_reach_every_log_table_escaped(db: psycopg.Connection, make_account,
                                                                           act_as, connect) -> None:
    # The request ids come from whoever begins the request (the authenticator): the API makes its own and
    # keeps a client's only when it has a sane shape, but the database must not rely on that. They reach
    # the log rows through the column defaults and the audit trigger.
    ensure_key(db)
    alice: Account = make_account("alice")
    conn = act_as(alice, request_id=NASTY, client_request_id=NASTY)
    conn.execute("select api.create_order(%s, false)", ["an order"])
    conn.execute("select api.log_client_event('INFO', 'gui', 'hello')")
    conn.commit()
    anonymous = connect(AUTHENTICATOR)
    anonymous.execute("select api.begin_anonymous_request(%s, null, %s)", [NASTY, NASTY])
    anonymous.execute("select * from api.login('alice', 'not the password', %s)", [TEST_PEPPER])
    anonymous.commit()
    db.execute("select * from audit.seal()")

    for table in ("logs", "order_logs"):
        name = sql.Identifier("public", table)
        ids = db.execute(sql.SQL("select distinct request_id, client_request_id from {} where request_id is not null")
                         .format(name)).fetchall()
        assert ids == [(SHOWN, SHOWN)], table
        assert db.execute(sql.SQL("select count(*) from {} l where to_jsonb(l)::text ~ %s").format(name),
                          [CONTROL]).fetchone() == (0,), table
    assert db.execute("select ok from audit.verify()").fetchone() == (True,)
