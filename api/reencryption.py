"""Re-encryption, driven one batch per transaction: the one home of the loop every caller runs.

The database does one batch (`api.reencrypt_batch(batch_size, sweep, count)`, sql/53_api_keys.sql) in the
caller's transaction; this module decides what to ask for next. First batches that skip rows writers hold,
until one moves nothing; then sweeps that wait for those rows, until none is left on an old key. Rows left
are counted by the database (never derived), at most once per `count_every` seconds, since counting visits
every row still to do; between counts the progress is the last count less what moved since.

Why not one long procedure that COMMITs per batch: its backend never waits for the client, so it noticed
neither a killed client nor a dead postmaster and ran to the end (a crashed server could not be started
again meanwhile). Driven from here, the backend waits for the client between batches, so either stops it
within one batch; `client_connection_check_interval` (set on the connection by `sql_batches`) stops a
batch whose client is gone even mid-way. A run that stops loses at most its current batch: every row is
on exactly one key, and running again finishes the job.

Three callers: the CLI (`strongroom keys reencrypt`, through `sql_batches`), the desktop app (one
`POST /aes/reencrypt` per batch, each a step of the same `Plan`) and the tests. `Plan` holds the decisions
and does no I/O, so it serves a blocking loop (`run`) and an event-driven one alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg

BATCH_SQL = "select moved, rows_left from api.reencrypt_batch(%s, %s, %s)"
# How often a backend checks, while it runs a batch, that its client is still there (PostgreSQL >= 14).
CLIENT_CHECK_MS = 1000


@dataclass(frozen=True)
class Step:
    """The next batch to ask for: a sweep waits for rows writers hold; count asks for the rows left."""

    batch_size: int
    sweep: bool
    count: bool


@dataclass(frozen=True)
class Progress:
    batches: int
    moved: int
    rows_left: int | None
    """Rows still on old keys: counted at the last count, less what moved since (None before any count)."""
    total: int | None
    """Rows on old keys when the run began (the first count plus what moved before it)."""
    done: bool


Batch = Callable[[Step], tuple[int, int | None]]
"""Runs one batch in its own transaction and answers (moved, rows_left or None when not counted)."""


class Plan:
    """What to ask the database for next, from what the batches so far answered. No I/O."""

    def __init__(self, batch_size: int = 500, count_every: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not 1 <= batch_size <= 100_000:
            raise ValueError("the batch size must be between 1 and 100000")
        self.batch_size = batch_size
        self.count_every = count_every
        self.clock = clock
        self.sweeping = False
        self.done = False
        self.batches = 0
        self.moved = 0
        self._counted_at: float | None = None
        self._left_at_count: int | None = None
        self._moved_at_count = 0
        self._total: int | None = None

    def next(self) -> Step | None:
        """The next batch, or None when every row is on the active key."""
        if self.done:
            return None
        due = self._counted_at is None or self.clock() - self._counted_at >= self.count_every
        # A sweep always counts: it stops when none is left.
        return Step(self.batch_size, self.sweeping, self.sweeping or due)

    def record(self, step: Step, moved: int, rows_left: int | None) -> Progress:
        """Take one batch's answer; returns the progress so far."""
        self.batches += 1
        self.moved += moved
        if rows_left is not None:
            self._counted_at = self.clock()
            self._left_at_count = rows_left
            self._moved_at_count = self.moved
            if self._total is None:
                self._total = rows_left + self.moved
        if step.sweep:
            self.done = rows_left == 0
        elif moved == 0:
            self.sweeping = True  # what is left is held by writers (or nothing is): wait for it
        return self.progress()

    def progress(self) -> Progress:
        left = None
        if self._left_at_count is not None:
            left = max(self._left_at_count - (self.moved - self._moved_at_count), 0)
        return Progress(self.batches, self.moved, left, self._total, self.done)


def run(batch: Batch, batch_size: int = 500, count_every: float = 1.0,
        on_progress: Callable[[Progress], None] | None = None) -> Progress:
    """Drive batches until every row is on the active key; each `batch` call is one transaction."""
    plan = Plan(batch_size, count_every)
    progress = plan.progress()
    while (step := plan.next()) is not None:
        progress = plan.record(step, *batch(step))
        if on_progress is not None:
            on_progress(progress)
    return progress


@contextmanager
def sql_batches(dsn: str, master_key: str, role: str) -> Iterator[Batch]:
    """One connection of its own; each batch one transaction as `role` with the master key set for it only.

    The master key lives only inside each batch's transaction (never at session level), and the
    connection asks the server to check every CLIENT_CHECK_MS that this client is still there.
    """
    options = f"-c client_connection_check_interval={CLIENT_CHECK_MS}"
    with psycopg.connect(dsn, autocommit=True, options=options,
                         application_name="strongroom-reencrypt") as conn:

        def batch(step: Step) -> tuple[int, int | None]:
            with conn.transaction():
                conn.execute(f"set local role {role}")
                conn.execute("select pg_catalog.set_config('strongroom.master_key', %s, true)", [master_key])
                row = conn.execute(BATCH_SQL, [step.batch_size, step.sweep, step.count]).fetchone()
            assert row is not None
            return int(row[0]), None if row[1] is None else int(row[1])

        yield batch
