"""`strongroom audit seal|verify|head` against a real database: what an operator sees and the exit status."""

from __future__ import annotations

import pytest

from api.cli import main
from api.settings import get_settings


@pytest.fixture
def cli(db, db_dsn, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", db_dsn)
    get_settings.cache_clear()
    yield main
    get_settings.cache_clear()


def test_seal_prints_the_new_blocks_and_head_prints_only_the_head_hash(db, cli, capsys):
    db.execute("insert into public.orders (description) values ('bolts')")

    assert cli(["audit", "seal"]) == 0
    sealed = capsys.readouterr().out
    assert cli(["audit", "head"]) == 0
    printed = capsys.readouterr().out

    head, block = db.execute("select block_hash, block_id from audit.head()").fetchone()
    assert f"head: block {block} {head}" in sealed
    assert printed == f"{head}\n"


def test_verify_prints_ok_and_the_head_and_exits_zero(db, cli, capsys):
    db.execute("insert into public.orders (description) values ('bolts')")
    cli(["audit", "seal"])
    head = db.execute("select block_hash from audit.head()").fetchone()[0]
    capsys.readouterr()

    status = cli(["audit", "verify", "--expect-head", head])

    out = capsys.readouterr().out
    rows = db.execute("select count(*) from audit.log_rows").fetchone()[0]
    blocks = db.execute("select count(*) from audit.seal_blocks").fetchone()[0]
    assert status == 0
    assert f"head: block {blocks} {head}" in out and f"ok: {rows} row(s) and {blocks} block(s) match" in out


def test_verify_names_the_tampered_row_and_exits_one(db, cli, capsys):
    db.execute("insert into public.orders (description) values ('bolts')")
    cli(["audit", "seal"])
    db.execute("set session_replication_role = replica")
    db.execute("update public.logs set message = 'edited'")
    db.execute("reset session_replication_role")
    capsys.readouterr()

    status = cli(["audit", "verify"])

    assert status == 1
    first = db.execute("select min(id) from public.logs").fetchone()[0]
    assert f"TAMPERED: first bad row logs {first}: row content does not match its hash" in capsys.readouterr().err


def test_verify_fails_when_the_kept_head_is_no_longer_in_the_chain(db, cli, capsys):
    db.execute("insert into public.orders (description) values ('bolts')")
    cli(["audit", "seal"])

    status = cli(["audit", "verify", "--expect-head", "00" * 32])

    assert status == 1
    assert "not in the chain" in capsys.readouterr().err


def test_head_before_any_seal_says_so_and_exits_one(cli, capsys):
    assert cli(["audit", "head"]) == 1
    assert "nothing sealed yet" in capsys.readouterr().err
