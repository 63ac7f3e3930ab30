"""Secrets stay out of backups and server logs; a backup restores and still decrypts.

A pg_dump of a populated database holds no plaintext and no unwrapped key, and restores into a fresh
database where every row decrypts (encryption lives in functions, not triggers). With log_statement=all,
the server log after a full cycle of writes, reads, rotation and re-encryption holds no master key, no
data key and no plaintext: secrets travel only as bound parameters, which the server never logs.
"""

from __future__ import annotations

import base64
import secrets
import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import conninfo, sql

from tests.sql.crypto_support import MASTER_KEY, caller, ensure_key, make_user, one, reencrypt, rotate


def markers(n: int) -> list[str]:
    return [f"marker-{secrets.token_hex(8)}" for _ in range(n)]


def populate(db: psycopg.Connection, user: int, values: list[str]) -> None:
    """Every encrypted field gets its own marker."""
    with caller(db, user):
        for value in values[0::3]:
            db.execute("select api.create_entry('title', %s)", [value])
        for value in values[1::3]:
            db.execute("select api.create_order(%s, true)", [value])
        for value in values[2::3]:
            db.execute("select api.save_vault_item(%s, %s, %s, %s)", [value, value + "-l", value + "-s", value + "-n"])


def unwrapped_keys(db: psycopg.Connection) -> list[str]:
    return [
        r[0]
        for r in db.execute(
            "select encode(pgp_sym_decrypt_bytea(dearmor(key_value), %s), 'hex') from aes_keys where key_value <> ''",
            [MASTER_KEY],
        )
    ]


def forms(value: str) -> list[str]:
    """A secret as it could appear in a dump or a log: as text, and hex-encoded as bytea."""
    return [value, value.encode().hex()]


def read_back(db: psycopg.Connection, user: int) -> set[str]:
    with caller(db, user):
        found = {r[0] for r in db.execute("select g.content from api.list_entries(null, 500) l, api.get_entry(l.id) g")}
        found |= {r[0] for r in db.execute("select description from api.list_orders(null, null, 500)")}
        found |= {r[0] for r in db.execute("select site from api.list_vault_sites()")}
    return found


@pytest.mark.slow
def test_a_dump_holds_no_plaintext_nor_key_and_restores_to_rows_that_decrypt(db, db_dsn, pg, tmp_path: Path):
    ensure_key(db)
    alice = make_user(db, "alice")
    values = markers(9)
    populate(db, alice, values)
    rotate(db)
    populate(db, alice, (extra := markers(3)))
    keys = unwrapped_keys(db)
    dbname = conninfo.conninfo_to_dict(db_dsn)["dbname"]
    plain = tmp_path / "dump.sql"
    env = {"PGPASSWORD": pg.password} if pg.password else None
    subprocess.run(
        [str(pg.bindir / "pg_dump"), "--format=plain", "--file", str(plain), "--dbname", db_dsn],
        check=True,
        env=env,
    )
    dump = plain.read_text()
    assert "marker-" not in dump
    for secret in [*values, *extra, MASTER_KEY, *keys]:
        for form in forms(secret):
            assert form not in dump

    restored = f"{dbname}_restored_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(pg.dsn(), autocommit=True) as admin:
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(restored)))
    try:
        subprocess.run(
            [str(pg.bindir / "psql"), "--quiet", "-v", "ON_ERROR_STOP=1", "--file", str(plain), pg.dsn(restored)],
            check=True,
            env=env,
            capture_output=True,
        )
        with psycopg.connect(pg.dsn(restored), autocommit=True) as copy:
            assert read_back(copy, alice) == set(values + extra)
    finally:
        with psycopg.connect(pg.dsn(), autocommit=True) as admin:
            admin.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(restored)))


@pytest.mark.slow
def test_the_server_log_holds_no_secret_after_a_full_key_cycle(db, db_dsn, pg, connect):
    if pg.log_file is None:
        pytest.skip("the server's log is not readable from here (DATABASE_URL server)")
    log = Path(pg.log_file)
    dbname = conninfo.conninfo_to_dict(db_dsn)["dbname"]
    db.execute(sql.SQL("alter database {} set log_statement = 'all'").format(sql.Identifier(dbname)))
    start = log.stat().st_size
    conn = connect(autocommit=True)  # a new session: log_statement = all applies to it

    ensure_key(conn)
    pepper = base64.b64encode(secrets.token_bytes(32)).decode()
    password = f"marker-password-{secrets.token_hex(8)}"
    api = connect(user="strongroom_authenticator", autocommit=True)  # as the API logs in
    api.execute("select api.register('logcheck', %s, %s)", [password, pepper])
    assert one(api, "select status from api.login('logcheck', %s, %s)", [password, pepper])[0] == "ok"
    alice = make_user(conn, "alice")
    values = markers(9)
    populate(conn, alice, values)
    assert read_back(conn, alice) == set(values)
    rotate(conn)
    reencrypt(db_dsn, batch_size=2)
    assert read_back(conn, alice) == set(values)
    keys = unwrapped_keys(db)

    written = log.read_bytes()[start:].decode(errors="replace")
    assert "api.create_entry" in written and "api.reencrypt_batch" in written  # statements were logged
    assert "marker-" not in written
    for secret in [MASTER_KEY, pepper, password, *keys, *values]:
        for form in forms(secret):
            assert form not in written
    assert one(db, "select current_setting('log_parameter_max_length')")[0] == "0"
