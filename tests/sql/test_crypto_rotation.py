"""Online rotation: writers never lose a row or land on an old key, and re-encryption survives kills.

The code under test: private.active_key_id() and the rotation lock in sql/30_crypto.sql, api.rotate_key,
api.reencrypt_batch and api.retire_key in sql/53_api_keys.sql, driven by api/reencryption.py.
"""

from __future__ import annotations

import threading
import time
import uuid

import psycopg
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from psycopg import sql

from tests.sql.crypto_support import caller, ensure_key, make_user, one, reencrypt, rotate

TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=40)


def wait_until_blocked(db: psycopg.Connection, pid: int) -> None:
    """Wait (bounded) until backend pid waits for a lock."""
    for _ in range(500):
        row = db.execute("select wait_event_type from pg_stat_activity where pid = %s", [pid]).fetchone()
        if row and row[0] == "Lock":
            return
        time.sleep(0.01)
    raise AssertionError(f"backend {pid} never waited for a lock")


def blocked_reencrypt(db: psycopg.Connection) -> int:
    """Wait (bounded) until a re-encryption batch (api/reencryption.py's connection) waits for a lock."""
    for _ in range(500):
        row = db.execute(
            "select pid from pg_stat_activity"
            " where application_name = 'strongroom-reencrypt' and wait_event_type = 'Lock'"
            " and datname = current_database()"  # the test server is shared with other tests' databases
        ).fetchone()
        if row:
            return int(row[0])
        time.sleep(0.01)
    raise AssertionError("no re-encryption batch ever waited for a lock")


def killed_reencrypt(dsn: str, outcome: list[BaseException | None]) -> None:
    """Re-encrypt in batches of 2, expecting to be killed (the error, or None when it was not, in outcome)."""
    try:
        reencrypt(dsn, batch_size=2)
    except psycopg.OperationalError as error:
        outcome.append(error)
    else:
        outcome.append(None)


def old_key_rows(db: psycopg.Connection) -> int:
    return int(
        one(
            db,
            "select (select count(*) from entries e join aes_keys k on k.id = e.content_key_id"
            "         where k.state <> 'active')"
            "     + (select count(*) from orders o join aes_keys k on k.id = o.description_key_id"
            "         where k.state <> 'active')",
        )[0]
    )


# --- rotation against writers ----------------------------------------------------------------------


def test_rotation_waits_for_a_writer_that_picked_the_old_key_and_later_writers_get_the_new_one(db, connect):
    old = ensure_key(db)
    alice = make_user(db, "alice")
    writer = connect(autocommit=True)
    rotator = connect(autocommit=True)
    late = connect(autocommit=True)
    rotated: list[int] = []
    with caller(writer, alice):
        first = one(writer, "select id from api.create_entry('before', 'picked the old key')")[0]
        rotator_pid = rotator.info.backend_pid
        thread = threading.Thread(target=lambda: rotated.append(rotate(rotator)))
        thread.start()
        wait_until_blocked(db, rotator_pid)
        assert one(db, "select state from aes_keys where id = %s", [old])[0] == "active"
    thread.join(10)
    with caller(late, alice):
        second = one(late, "select id from api.create_entry('after', 'new key')")[0]
    assert one(db, "select content_key_id from entries where id = %s", [first])[0] == old
    assert one(db, "select content_key_id from entries where id = %s", [second])[0] == rotated[0]


def test_writers_keep_working_while_reencrypt_runs_and_nothing_is_left_behind(db, db_dsn, connect):
    ensure_key(db)
    alice = make_user(db, "alice")
    with caller(db, alice):
        ids = [one(db, "select id from api.create_entry(%s, %s)", [f"n{i}", f"v{i}"])[0] for i in range(300)]
    rotate(db)
    expected = {entry: f"v{i}" for i, entry in enumerate(ids)}
    errors: list[BaseException] = []
    lock = threading.Lock()
    done = threading.Event()

    def writer(n: int) -> None:
        conn = connect(autocommit=True)
        try:
            for step in range(400):
                if done.is_set() and step > 50:
                    break
                with caller(conn, alice):
                    if step % 2:
                        target = ids[(step * 7 + n) % len(ids)]
                        value = f"w{n}-{step}"
                        conn.execute("select api.update_entry(%s, null, %s)", [target, value])
                    else:
                        value = f"new{n}-{step}"
                        target = one(conn, "select id from api.create_entry('w', %s)", [value])[0]
                with lock:
                    expected[target] = value
        except BaseException as error:
            errors.append(error)

    writers = [threading.Thread(target=writer, args=(n,)) for n in range(2)]
    for thread in writers:
        thread.start()
    try:
        reencrypt(db_dsn, batch_size=10)
    finally:
        done.set()
        for thread in writers:
            thread.join(60)
    assert errors == []
    assert old_key_rows(db) == 0
    with caller(db, alice):
        stored = dict(db.execute("select l.id, g.content from api.list_entries(null, 500) l, api.get_entry(l.id) g"))
    assert len(stored) == len(expected)
    assert stored == expected


def test_a_reencrypt_killed_mid_batch_loses_nothing_and_a_second_run_finishes(db, db_dsn, connect):
    ensure_key(db)
    alice = make_user(db, "alice")
    with caller(db, alice):
        for i in range(20):
            db.execute("select api.create_entry('t', %s)", [f"value {i}"])
    rotate(db)
    before = old_key_rows(db)
    blocker = connect()
    blocker.execute("lock table key_logs in exclusive mode")  # the batch stops at its progress row
    outcome: list[BaseException | None] = []
    thread = threading.Thread(target=killed_reencrypt, args=(db_dsn, outcome))
    thread.start()
    db.execute("select pg_terminate_backend(%s)", [blocked_reencrypt(db)])
    thread.join(10)
    assert outcome and outcome[0] is not None
    blocker.rollback()
    assert old_key_rows(db) == before
    with caller(db, alice):
        assert sorted(
            r[0] for r in db.execute("select g.content from api.list_entries() l, api.get_entry(l.id) g")
        ) == (sorted(f"value {i}" for i in range(20)))
    reencrypt(db_dsn, batch_size=5)
    assert old_key_rows(db) == 0


# --- the state machine -----------------------------------------------------------------------------


class Rotation(RuleBasedStateMachine):
    """Writes, rotations, batches and killed batches in any order; the model is what each row must read."""

    pg = None
    template = ""

    @initialize()
    def fresh_database(self) -> None:
        self.dbname = "rot_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.pg.dsn(), autocommit=True) as admin:
            admin.execute(
                sql.SQL("create database {} template {}").format(
                    sql.Identifier(self.dbname), sql.Identifier(self.template)
                )
            )
        self.dsn = self.pg.dsn(self.dbname)
        self.db = psycopg.connect(self.dsn, autocommit=True)
        ensure_key(self.db)
        self.user = make_user(self.db, "model")
        self.entries: dict[int, str] = {}
        self.orders: dict[int, str] = {}
        self.old_rows = 0
        self.just_rotated = False

    def teardown(self) -> None:
        if getattr(self, "db", None) is not None:
            self.db.close()
            with psycopg.connect(self.pg.dsn(), autocommit=True) as admin:
                admin.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(self.dbname)))

    def _moved(self, rotated: bool = False) -> None:
        self.just_rotated = rotated

    @rule(value=TEXT)
    def insert_entry(self, value: str) -> None:
        with caller(self.db, self.user):
            self.entries[one(self.db, "select id from api.create_entry('t', %s)", [value])[0]] = value
        self._moved()

    @rule(value=TEXT.filter(lambda v: v.strip() != ""))
    def insert_sensitive_order(self, value: str) -> None:
        with caller(self.db, self.user):
            self.orders[one(self.db, "select id from api.create_order(%s, true)", [value])[0]] = value
        self._moved()

    @precondition(lambda self: self.entries)
    @rule(data=st.data(), value=TEXT)
    def update_entry(self, data: st.DataObject, value: str) -> None:
        entry = data.draw(st.sampled_from(sorted(self.entries)))
        with caller(self.db, self.user):
            self.db.execute("select api.update_entry(%s, null, %s)", [entry, value])
        self.entries[entry] = value
        self._moved()

    @precondition(lambda self: self.entries)
    @rule(data=st.data())
    def delete_entry(self, data: st.DataObject) -> None:
        entry = data.draw(st.sampled_from(sorted(self.entries)))
        with caller(self.db, self.user):
            self.db.execute("select api.delete_entry(%s)", [entry])
        del self.entries[entry]
        self._moved()

    @rule()
    def rotate(self) -> None:
        rotate(self.db)
        self._moved(rotated=True)

    @rule(size=st.integers(1, 4))
    def reencrypt_batch(self, size: int) -> None:
        with caller(self.db, None, "admin"):
            self.db.execute("select * from api.reencrypt_batch(%s)", [size])
        self._moved()

    @rule()
    def kill_the_reencrypting_backend_mid_batch(self) -> None:
        blocker = psycopg.connect(self.dsn)
        try:
            blocker.execute("lock table key_logs in exclusive mode")
            outcome: list[BaseException | None] = []
            thread = threading.Thread(target=killed_reencrypt, args=(self.dsn, outcome))
            thread.start()
            self.db.execute("select pg_terminate_backend(%s)", [blocked_reencrypt(self.db)])
            thread.join(10)
            assert outcome and outcome[0] is not None, "the reencrypting backend was not killed"
        finally:
            blocker.close()
        self._moved()

    @rule()
    def retire_every_old_key_it_can(self) -> None:
        keys = self.db.execute("select id from aes_keys where state = 'decrypt_only' order by id").fetchall()
        for (key,) in keys:
            using = one(
                self.db,
                "select (select count(*) from entries where content_key_id = %s)"
                "     + (select count(*) from orders where description_key_id = %s)",
                [key, key],
            )[0]
            try:
                with caller(self.db, None, "admin", None):
                    self.db.execute("select * from api.retire_key(%s)", [key])
                retired = True
            except psycopg.Error as error:
                assert error.sqlstate == "SRC51"
                retired = False
            assert retired == (using == 0), (key, using)
        self._moved()

    @invariant()
    def every_row_decrypts_to_the_models_value(self) -> None:
        if not hasattr(self, "db"):
            return
        with caller(self.db, self.user):
            entries = {
                r[0]: r[1]
                for r in self.db.execute(
                    "select l.id, g.content from api.list_entries(null, 500) l, api.get_entry(l.id) g"
                )
            }
            orders = dict(self.db.execute("select id, description from api.list_orders(null, null, 500)").fetchall())
        assert entries == self.entries
        assert orders == self.orders

    @invariant()
    def rows_on_old_keys_only_decrease_between_rotations(self) -> None:
        if not hasattr(self, "db"):
            return
        now = old_key_rows(self.db)
        if not self.just_rotated:
            assert now <= self.old_rows
        self.old_rows = now


@pytest.mark.slow
def test_rotation_state_machine(pg, strongroom_template):
    Rotation.pg = pg
    Rotation.template = strongroom_template
    run_state_machine_as_test(
        Rotation,
        settings=settings(
            max_examples=12,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
