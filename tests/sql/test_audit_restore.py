"""Sealing after a restore into another cluster: seal() refuses a transaction counter behind the chain, and
the README's procedure (freeze, pg_resetwal -e/-x, restore) makes seal() and verify() work again.

Seal blocks cover ranges of transaction ids (xid8). A fresh cluster counts from a few hundred: restored
there, new log rows would get ids inside ranges already sealed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from api.postgres.embedded import EmbeddedServer, default_bindir
from api.postgres.migrate import bootstrap, migrate
from api.testing.plugin import free_port


def last_xid_to(db: psycopg.Connection) -> int:
    return int(db.execute("select xid_to::text from audit.seal_blocks order by id desc limit 1").fetchone()[0])


def block_from_the_future(db: psycopg.Connection, ahead: int) -> int:
    """What a restore into a younger cluster looks like from inside: the last block's xid_to is ahead of the
    counter. Written as a superuser would, with the block's own hash, so the chain itself stays valid."""
    db.execute("insert into public.orders (description) values ('bolts')")
    db.execute("select * from audit.seal()")
    db.execute(
        """
        with last as (select * from audit.seal_blocks order by id desc limit 1),
             b as (select row(last.id + 1, 'logs', last.month, last.xid_to,
                              (last.xid_to::text::numeric + %s)::text::xid8, 1, last.rows_hash, last.block_hash,
                              null, now(), 'postgres')::audit.seal_blocks as r
                   from last)
        insert into audit.seal_blocks
        select (r).id, (r).log_table, (r).month, (r).xid_from, (r).xid_to, (r).row_count, (r).rows_hash,
               (r).prev_hash, audit.block_hash(r), (r).sealed_at, (r).sealed_by
        from b
        """,
        [ahead],
    )
    return last_xid_to(db)


# SQL level ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("xid", "epoch", "next_xid"),
    [
        (5_000, 0, 1_048_576),                      # the first segment start above the id
        (1_048_576, 0, 2_097_152),                  # strictly above, even on a segment start
        ((1 << 32) | 0xC00000CE, 1, 0xC0100000),    # the epoch is the high 32 bits
        ((3 << 32) | 0xFFFFFFF0, 4, 1_048_576),     # past the last segment: the next epoch's first
    ],
)
def test_resetwal_target_is_the_next_pg_xact_segment_start_above_the_id(db, xid, epoch, next_xid):
    target = db.execute("select epoch, next_xid from audit.resetwal_target(%s::text::xid8)", [str(xid)]).fetchone()

    assert target == (epoch, next_xid)
    assert (epoch << 32) + next_xid > xid and next_xid % 1_048_576 == 0


def test_seal_refuses_a_counter_behind_the_last_block_and_names_the_resetwal_values(db):
    xid_to = block_from_the_future(db, ahead=5_000_000)
    db.execute("insert into public.orders (description) values ('after the restore')")
    blocks = db.execute("select count(*) from audit.seal_blocks").fetchone()[0]

    with pytest.raises(psycopg.Error) as refused:
        db.execute("select * from audit.seal()")

    epoch, next_xid = db.execute("select * from audit.resetwal_target(%s::text::xid8)", [str(xid_to)]).fetchone()
    assert refused.value.sqlstate == "SRC92"
    assert f"past {xid_to}" in refused.value.diag.message_primary
    assert f"pg_resetwal -e {epoch} -x {next_xid}" in refused.value.diag.message_hint
    assert db.execute("select count(*) from audit.seal_blocks").fetchone()[0] == blocks


def test_seal_with_nothing_finished_since_the_last_block_is_not_an_error(db):
    db.execute("insert into public.orders (description) values ('bolts')")
    db.execute("select * from audit.seal()")

    assert db.execute("select * from audit.seal()").fetchall() == []


# The procedure, for real ----------------------------------------------------------------------------------

Make = Callable[[], EmbeddedServer]


@pytest.fixture
def clusters() -> Iterator[Make]:
    """Fresh clusters of the embedded binaries, each stopped and removed at the end."""
    made: list[EmbeddedServer] = []

    def make() -> EmbeddedServer:
        server = EmbeddedServer(home=Path(tempfile.mkdtemp(prefix="strongroom-restore-")), port=free_port(),
                                bindir=default_bindir(), run_as=os.environ.get("STRONGROOM_PG_USER", "strongroom"),
                                database="postgres")
        made.append(server)
        server.start()
        return server

    yield make
    for server in made:
        server.remove()
        shutil.rmtree(server.home, ignore_errors=True)


def client(server: EmbeddedServer, program: str, *argv: str) -> None:
    bindir = server.bindir
    subprocess.run([str(bindir / program), "--host", str(server.sockdir), "--port", str(server.port),
                    "--username", "postgres", *argv], check=True, capture_output=True, text=True)


def move_counter(server: EmbeddedServer, epoch: int, next_xid: int) -> None:
    """The README's steps: freeze (the jump may put old row versions 2^31 ids in the past), stop,
    pg_resetwal -e -x, start. pg_resetwal runs as the data directory's owner."""
    client(server, "vacuumdb", "--all", "--freeze")
    server.stop()
    reset = server._as_server([str(server._usable_bindir() / "pg_resetwal"), "-e", str(epoch), "-x",
                               str(next_xid), "-D", str(server.datadir)])
    assert reset.returncode == 0, reset.stderr
    server.start()


def restore(server: EmbeddedServer, dump: Path) -> psycopg.Connection:
    with psycopg.connect(server.dsn("postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("create database {}").format(sql.Identifier("restored")))
    bootstrap(server.dsn("restored"))  # the cluster-wide roles
    client(server, "pg_restore", "--exit-on-error", "--dbname", "restored", str(dump))
    return psycopg.connect(server.dsn("restored"), autocommit=True)


def write_seal_verify(conn: psycopg.Connection, head: str) -> None:
    conn.execute("insert into public.orders (description) values ('after the restore')")
    assert conn.execute("select count(*) from audit.seal()").fetchone()[0] >= 2
    assert conn.execute("select ok, problem from audit.verify()").fetchone() == (True, None)
    assert conn.execute("select count(*) from audit.seal_blocks where encode(block_hash, 'hex') = %s",
                        [head]).fetchone()[0] == 1


@pytest.mark.slow
def test_a_database_restored_into_a_fresh_cluster_seals_and_verifies_after_the_documented_procedure(
        clusters: Make, tmp_path: Path):
    # The source has run a while: one epoch and three billion ids along, so the restore must carry both
    # the epoch and a jump of more than 2^31 ids.
    source = clusters()
    move_counter(source, 1, 0xC0000000)
    with psycopg.connect(source.dsn("postgres"), autocommit=True) as admin:
        admin.execute("create database strongroom")
    migrate(source.dsn("strongroom"), say=lambda _: None)
    with psycopg.connect(source.dsn("strongroom"), autocommit=True) as db:
        for n in range(3):
            db.execute("insert into public.orders (description) values (%s)", [f"order {n}"])
        db.execute("select * from audit.seal()")
        head = db.execute("select block_hash from audit.head()").fetchone()[0]
        epoch, next_xid = db.execute(
            "select t.* from audit.seal_blocks b, audit.resetwal_target(b.xid_to) t order by b.id desc limit 1"
        ).fetchone()
    assert epoch == 1
    dump = tmp_path / "strongroom.dump"
    client(source, "pg_dump", "--format=custom", "--file", str(dump), "strongroom")
    source.stop()

    # Before restoring (the README's order): move the fresh cluster's counter, then restore.
    prepared = clusters()
    move_counter(prepared, epoch, next_xid)
    with restore(prepared, dump) as conn:
        write_seal_verify(conn, head)

    # Restored first: seal() refuses and names the values; the same steps then make it work.
    late = clusters()
    with restore(late, dump) as conn:
        with pytest.raises(psycopg.Error) as refused:
            conn.execute("select * from audit.seal()")
    assert refused.value.sqlstate == "SRC92"
    assert f"pg_resetwal -e {epoch} -x {next_xid}" in refused.value.diag.message_hint
    move_counter(late, epoch, next_xid)
    with psycopg.connect(late.dsn("restored"), autocommit=True) as conn:
        write_seal_verify(conn, head)
