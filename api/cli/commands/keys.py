"""`strongroom keys ...`: data key status, rotation, re-encryption, retirement, master key re-wrap.

A DBA's console: every command connects with the administrative DSN (`strongroom db url`), switches to
`strongroom_owner` and calls the same SQL functions the API and the tests call (sql/53_api_keys.sql).
The master key comes from the settings (STRONGROOM_MASTER_KEY or the secrets file) and reaches the
database only as a bound parameter of `set_config('strongroom.master_key', ..., ...)`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import psycopg
from pydantic import SecretStr

from api import reencryption
from api.cli.commands import OWNER, admin_connection, command_group, new_secret
from api.cli.errors import CommandFailed
from api.postgres.target import resolve
from api.reencryption import Progress
from api.settings import check_secret, get_settings

NEW_MASTER_ENV = "STRONGROOM_NEW_MASTER_KEY"
# Rows left are counted (a scan of what is still to do) at most this often; the bar moves every batch.
PROGRESS_EVERY_SECONDS = 0.5


def register(subparsers: argparse._SubParsersAction) -> None:
    add = command_group(subparsers, "keys", "manage the data keys", __doc__)
    add("status", status, "per key: state, dates and the rows using it, per table")
    add("rotate", rotate, "make a new active data key; the old one becomes decrypt-only")
    reencrypt_parser = add(
        "reencrypt", reencrypt, "move every row on an old key to the active key, in committed batches"
    )
    reencrypt_parser.add_argument(
        "--batch-size", type=int, default=500, metavar="N", help="rows per committed batch (default 500)"
    )
    retire_parser = add("retire", retire, "destroy an old key's material once no row uses it")
    retire_parser.add_argument("key_id", type=int, metavar="ID", help="the key's id (see `keys status`)")
    add(
        "rewrap-master",
        rewrap_master,
        f"re-wrap every data key under a new master key (from ${NEW_MASTER_ENV}, or asked twice)",
    )


@contextmanager
def _admin(master: bool) -> Iterator[psycopg.Connection]:
    """One transaction as the owner, with the master key set when the command needs it."""
    with admin_connection(as_owner=True, master_key=master) as conn, conn.transaction():
        yield conn


def status(_: argparse.Namespace) -> None:
    with _admin(master=False) as conn:
        rows = conn.execute(
            "select id, key_label, state, created_at, rotated_at, retired_at,"
            " entries_rows, orders_rows, vault_rows from api.key_status()"
        ).fetchall()
    header = ("id", "label", "state", "created", "rotated", "retired", "entries", "orders", "vault")
    table = [header] + [tuple(_cell(v) for v in row) for row in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _cell(value: object) -> str:
    """A status cell: times to the second, everything else (the key's label above all) in full."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    return str(value)


def rotate(_: argparse.Namespace) -> None:
    with _admin(master=True) as conn:
        row = conn.execute("select old_key_id, new_key_id from api.rotate_key()").fetchone()
    assert row is not None
    old, new = row
    print(f"key {new} is now active" + (f"; key {old} is decrypt-only" if old else ""))
    if old:
        print("run `strongroom keys reencrypt` to move the old key's rows, then `strongroom keys retire` it")


def _rows_left(conn: psycopg.Connection) -> int:
    row = conn.execute("select coalesce(sum(total_rows), 0) from api.key_status() where state <> 'active'").fetchone()
    return int(row[0]) if row else 0


def _bar(progress: Progress, rate: float) -> str:
    width = 30
    total = progress.total or 0
    filled = width if total == 0 else min(width, width * progress.moved // total)
    return (f"[{'#' * filled}{'.' * (width - filled)}] {progress.moved}/{total} moved, "
            f"{progress.rows_left or 0} left, {rate:.0f} rows/s")


def reencrypt(args: argparse.Namespace) -> int:
    """Drive api.reencrypt_batch one committed batch at a time (api/reencryption.py); Ctrl-C stops it.

    Each batch is a transaction of its own with the master key set for it only. Between two batches the
    server waits for this command, so killing it (or the server's postmaster dying) stops the job within
    one batch; Ctrl-C cancels the running batch, which rolls back.
    """
    if not 1 <= args.batch_size <= 100_000:
        raise CommandFailed("--batch-size must be between 1 and 100000")
    settings = get_settings()
    dsn, master = resolve(settings).admin_dsn, settings.secret("STRONGROOM_MASTER_KEY")
    started = time.monotonic()

    def show(progress: Progress) -> None:
        rate = progress.moved / max(time.monotonic() - started, 1e-6)
        print("\r" + _bar(progress, rate), end="", file=sys.stderr, flush=True)

    try:
        with reencryption.sql_batches(dsn, master, OWNER) as batch:
            progress = reencryption.run(batch, args.batch_size, PROGRESS_EVERY_SECONDS, on_progress=show)
    except KeyboardInterrupt:
        # psycopg cancelled the running batch on the server: it rolled back; the batches before it stay.
        with _admin(master=False) as conn:
            left = _rows_left(conn)
        print(
            f"\ninterrupted: {left} rows are still on old keys; every committed batch is kept and each "
            "row is on exactly one key. Run `strongroom keys reencrypt` again to finish.",
            file=sys.stderr,
        )
        return 130
    print(file=sys.stderr)
    print(f"re-encryption done: {progress.moved} rows moved, {progress.rows_left or 0} left on old keys")
    return 0


def retire(args: argparse.Namespace) -> None:
    with _admin(master=False) as conn:
        conn.execute("select * from api.retire_key(%s)", [args.key_id])
    print(f"key {args.key_id} is retired: its material is destroyed")


def rewrap_master(_: argparse.Namespace) -> None:
    new = new_secret(NEW_MASTER_ENV, "New master key (base64, at least 32 bytes)", "master key")
    check_secret(NEW_MASTER_ENV, SecretStr(new))
    with _admin(master=True) as conn:
        conn.execute("select set_config('strongroom.new_master_key', %s, true)", [new])
        row = conn.execute("select rewrapped from api.rewrap_master()").fetchone()
    count = row[0] if row else 0
    print(
        f"{count} data keys are now wrapped by the new master key. Put it in STRONGROOM_MASTER_KEY "
        "(or the secrets file) now and restart the API: the old master key no longer works."
    )
