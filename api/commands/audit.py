"""`strongroom audit ...`: seal the log tables, verify them, and print the head hash to keep elsewhere."""

from __future__ import annotations

import argparse
import sys

import psycopg

from api.database import resolve
from api.settings import get_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("audit", help="seal and verify the tamper-evident audit trail", description=__doc__)
    commands = group.add_subparsers(title="audit commands", metavar="COMMAND", required=True)
    seal_cmd = commands.add_parser(
        "seal",
        help="chain the log rows of every finished transaction into new sealed blocks",
        description="Run audit.seal(): the log rows written since the last seal, by transactions that have "
        "finished, are chained into new blocks. Safe while the API runs (it seals every few seconds too).",
    )
    seal_cmd.set_defaults(handler=seal)
    verify_cmd = commands.add_parser(
        "verify",
        help="recompute every row and block; print the first mismatch (exit 1) or ok, and the head",
        description="Run audit.verify(): recompute every log row's hash, regroup the sealed rows into their "
        "blocks and recheck the chain. Exits 1 naming the first row or block that does not match.",
    )
    verify_cmd.add_argument(
        "--expect-head",
        metavar="HEX",
        help="a head hash you kept outside the database: fail unless that block is still in the chain",
    )
    verify_cmd.set_defaults(handler=verify)
    head_cmd = commands.add_parser(
        "head",
        help="print only the current head hash (keep it outside the database)",
        description="Print the hash of the last sealed block and nothing else, for a script to store "
        "elsewhere: only a copy kept outside the database shows that nobody rewrote the whole tail.",
    )
    head_cmd.set_defaults(handler=head)


def _connect() -> psycopg.Connection:
    return psycopg.connect(resolve(get_settings()).admin_dsn, autocommit=True)


def seal(_: argparse.Namespace) -> None:
    with _connect() as conn:
        blocks = conn.execute("select block_id, log_table, row_count, block_hash from audit.seal()").fetchall()
    if not blocks:
        print("nothing to seal: every finished transaction's rows are already sealed")
        return
    for block_id, table, rows, block_hash in blocks:
        print(f"block {block_id}: {rows} {table} row(s), hash {block_hash}")
    print(f"head: block {blocks[-1][0]} {blocks[-1][3]}")


def verify(args: argparse.Namespace) -> int:
    with _connect() as conn:
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
    with _connect() as conn:
        row = conn.execute("select block_hash from audit.head()").fetchone()
    if row is None:
        print("strongroom: nothing sealed yet: run `strongroom audit seal` first", file=sys.stderr)
        return 1
    print(row[0])
    return 0
