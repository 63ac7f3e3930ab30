"""`strongroom audit ...`: seal the log tables, verify them, print the head hash to keep elsewhere, and retire
old months into checked archive files."""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import conninfo

from api.cli.commands import admin_connection, command_group
from api.cli.errors import CommandFailed, describe
from api.postgres.embedded import default_bindir, embedded_server
from api.postgres.target import Target, resolve
from api.settings import get_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    add = command_group(subparsers, "audit", "seal and verify the tamper-evident audit trail", __doc__)
    add("seal", seal, "chain the log rows of every finished transaction into new sealed blocks",
        "Run audit.seal(): the log rows written since the last seal, by transactions that have finished, are "
        "chained into new blocks. Safe while the API runs (it seals every few seconds too).")
    verify_cmd = add(
        "verify", verify, "recompute every row and block; print the first mismatch (exit 1) or ok, and the head",
        "Run audit.verify(): recompute every log row's hash, regroup the sealed rows into their blocks and "
        "recheck the chain. Exits 1 naming the first row or block that does not match.")
    verify_cmd.add_argument(
        "--expect-head",
        metavar="HEX",
        help="a head hash you kept outside the database: fail unless that block is still in the chain",
    )
    add("head", head, "print only the current head hash (keep it outside the database)",
        "Print the hash of the last sealed block and nothing else, for a script to store elsewhere: only a "
        "copy kept outside the database shows that nobody rewrote the whole tail.")
    retire_cmd = add(
        "retire", retire, "move old sealed months to the archive schema, dump each to a checked file, then drop it",
        "Retention. Run audit.retire_partitions() (old, fully sealed months move to schema audit_archive), "
        "then for every table there not yet dropped: pg_dump it (custom format) to a file in the archive "
        "directory, check the file reads back (pg_restore --list names the table), record its SHA-256 "
        "(audit.record_archive) and drop the table (audit.drop_archived, logged as partition_dropped). A table "
        "whose dump fails stays in audit_archive; run the command again.")
    retire_cmd.add_argument(
        "--keep-months",
        type=int,
        metavar="N",
        help="retire months that ended more than N whole months ago (default: audit.settings retention_months)",
    )
    retire_cmd.add_argument(
        "--archive-dir",
        type=Path,
        metavar="DIR",
        help="where the dump files go (created mode 0700; default: $STRONGROOM_HOME/audit-archive)",
    )
    retire_cmd.add_argument(
        "--lock-wait",
        type=int,
        default=60,
        metavar="SECONDS",
        help="how long pg_dump waits for a lock on an archived table before giving up on it (default: 60)",
    )
    retire_cmd.add_argument(
        "--dry-run",
        action="store_true",
        help="list the months it would retire and the tables it would dump and drop; change nothing",
    )


def seal(_: argparse.Namespace) -> None:
    with admin_connection() as conn:
        blocks = conn.execute("select block_id, log_table, row_count, block_hash from audit.seal()").fetchall()
    if not blocks:
        print("nothing to seal: every finished transaction's rows are already sealed")
        return
    for block_id, table, rows, block_hash in blocks:
        print(f"block {block_id}: {rows} {table} row(s), hash {block_hash}")
    print(f"head: block {blocks[-1][0]} {blocks[-1][3]}")


def verify(args: argparse.Namespace) -> int:
    with admin_connection() as conn:
        ok, kind, table, item, problem, rows, blocks, head_block, head_hash = conn.execute(
            "select ok, kind, log_table, item_id, problem, rows_checked, blocks_checked, head_block, head_hash"
            " from audit.verify()"
        ).fetchone()  # type: ignore[misc]
        kept = None
        if args.expect_head:
            kept = conn.execute(
                "select id from audit.seal_blocks where block_hash = decode(%s, 'hex')", [args.expect_head.lower()]
            ).fetchone()
    print(f"head: block {head_block} {head_hash}" if head_block else "head: nothing sealed yet")
    if not ok:
        print(f"strongroom: TAMPERED: first bad {kind} {table} {item}: {problem}", file=sys.stderr)
        return 1
    if args.expect_head and kept is None:
        print("strongroom: the head you kept is not in the chain: its tail was rewritten or removed", file=sys.stderr)
        return 1
    print(f"ok: {rows} row(s) and {blocks} block(s) match")
    return 0


def head(_: argparse.Namespace) -> int:
    with admin_connection() as conn:
        row = conn.execute("select block_hash from audit.head()").fetchone()
    if row is None:
        print("strongroom: nothing sealed yet: run `strongroom audit seal` first", file=sys.stderr)
        return 1
    print(row[0])
    return 0


# Retention -----------------------------------------------------------------------------------------------

# The tables in audit_archive still waiting to be dropped, with the archive recorded so far (if any).
PENDING = """
    select split_part(rp.archived_as, '.', 2), rp.log_table, rp.month, rp.row_count, rp.archive_file,
           rp.archive_sha256
    from audit.retired_partitions as rp
    where rp.dropped_at is null and to_regclass(rp.archived_as) is not null
    order by rp.month, rp.log_table
"""


@dataclass(frozen=True)
class Archived:
    table: str
    log_table: str
    month: str
    rows: int
    file: str | None
    sha256: str | None


def _tool(target: Target, name: str) -> str:
    """A PostgreSQL client program: the embedded server's own, else STRONGROOM_PG_BINDIR's, PATH's, or ours."""
    settings = get_settings()
    server = embedded_server(settings)
    if server is not None:
        return str(server.bindir / name)
    if settings.pg_bindir is not None:
        return str(settings.pg_bindir / name)
    return shutil.which(name) or str(default_bindir() / name)


def _client(target: Target) -> tuple[str, dict[str, str]]:
    """The admin DSN without its password, and an environment that carries the password instead (not argv)."""
    params = {k: str(v) for k, v in conninfo.conninfo_to_dict(target.admin_dsn).items() if v is not None}
    env = dict(os.environ)
    password = params.pop("password", None)
    if password is not None:
        env["PGPASSWORD"] = password
    return conninfo.make_conninfo(**params), env


def _archive_dir(path: Path | None) -> Path:
    directory = path or get_settings().home / "audit-archive"
    if not directory.exists():
        directory.mkdir(mode=0o700, parents=True)
        directory.chmod(0o700)
    if directory.stat().st_mode & 0o077:
        raise CommandFailed(f"the archive directory {directory} is open to other users: chmod 700 it first")
    return directory


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _dump(target: Target, table: str, file: Path, lock_wait: int) -> str:
    """Dump audit_archive.<table> to file and check it reads back; return its SHA-256. Raises CommandFailed,
    leaving no file behind, when either step fails."""
    dsn, env = _client(target)
    partial = file.with_name(file.name + ".partial")
    partial.unlink(missing_ok=True)
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # pg_dump writes into a 0600 file
    try:
        dumped = subprocess.run(
            [_tool(target, "pg_dump"), "--format=custom", "--file", str(partial), "--table",
             f"audit_archive.{table}", f"--lock-wait-timeout={lock_wait}s", "--dbname", dsn],
            capture_output=True, text=True, env=env, check=False,
        )
        if dumped.returncode != 0:
            raise CommandFailed(f"pg_dump failed: {_error_line(dumped.stderr)}")
        listed = subprocess.run([_tool(target, "pg_restore"), "--list", str(partial)],
                                capture_output=True, text=True, env=env, check=False)
        if listed.returncode != 0:
            raise CommandFailed(f"pg_restore --list cannot read the dump: {_error_line(listed.stderr)}")
        wanted = {f"TABLE audit_archive {table} ", f"TABLE DATA audit_archive {table} "}
        if not all(any(want in line for line in listed.stdout.splitlines()) for want in wanted):
            raise CommandFailed("the dump does not hold the table and its data")
        sha = _sha256(partial)
        partial.replace(file)
        return sha
    finally:
        partial.unlink(missing_ok=True)


def _error_line(text: str) -> str:
    """The line of a client program's stderr that says what failed (its `error:` line, else the last)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    errors = [line for line in lines if "error:" in line]
    return (errors or lines or ["no message"])[0 if errors else -1]


def retire(args: argparse.Namespace) -> int:
    target = resolve(get_settings())
    with admin_connection() as conn:
        if args.dry_run:
            return _retire_dry_run(conn, args)
        directory = _archive_dir(args.archive_dir)
        conn.execute("call audit.retire_partitions(%s)", [args.keep_months])
        pending = [Archived(*row) for row in conn.execute(PENDING).fetchall()]
        if not pending:
            print("nothing to archive: no retired log partition is waiting in audit_archive")
            return 0
        failed = 0
        for item in pending:
            label = f"audit_archive.{item.table} ({item.log_table} {item.month:%Y-%m}, {item.rows} row(s))"
            file = directory / f"{item.table}.dump"
            try:
                # A dump recorded by an earlier run whose drop did not happen is reused if it is intact.
                if item.sha256 is None or not file.exists() or _sha256(file) != item.sha256:
                    sha = _dump(target, item.table, file, args.lock_wait)
                    conn.execute("call audit.record_archive(%s, %s, %s)", [item.table, str(file), sha])
                    print(f"archived {label} to {file} (sha256 {sha})")
                else:
                    sha = item.sha256
                conn.execute("call audit.drop_archived(%s, %s)", [item.table, sha])
                print(f"dropped audit_archive.{item.table}: its archive is {file} (sha256 {sha})")
            except (CommandFailed, psycopg.Error) as error:
                failed += 1
                print(f"strongroom: {label} kept: {describe(error)}", file=sys.stderr)
    if failed:
        print(f"strongroom: {failed} table(s) left in audit_archive; run `strongroom audit retire` again",
              file=sys.stderr)
        return 1
    return 0


def _retire_dry_run(conn: psycopg.Connection, args: argparse.Namespace) -> int:
    retiring = conn.execute(
        "select log_table, partition_name, month from audit.retirable_partitions(%s)", [args.keep_months]
    ).fetchall()
    pending = [Archived(*row) for row in conn.execute(PENDING).fetchall()]
    directory = args.archive_dir or get_settings().home / "audit-archive"
    for log_table, part, month in retiring:
        print(f"would retire {part} ({log_table} {month:%Y-%m}) to audit_archive, if all its rows are sealed")
    tables = [item.table for item in pending] + [part for _, part, _ in retiring]
    for table in tables:
        print(f"would dump audit_archive.{table} to {directory / (table + '.dump')}, check it, and drop the table")
    if not tables:
        print("nothing to do: no log partition is old enough and none waits in audit_archive")
    return 0
