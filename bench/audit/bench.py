"""The audit trail's cost, measured against its limit in the same run.

1. pgbench at 1, 2 and 4 clients, one statement per transaction: INSERTs into an orders-like table, the same
   table with the audit trigger (one logs row with images and row hash per insert), and the real `orders`
   table (its audit rows) and a copy of `orders` without them; then UPDATEs of a row picked at random in the
   plain and the audited table. audit.seal() runs every second alongside. Prints TPS, the ratio of audited
   to plain (goal >= 0.7, issue 18 item 6), of `orders` to the audited table, and what an order's audit
   costs against one audited row's (microseconds per transaction, orders against its copy beside audited
   against plain; goal <= 1: an order costs no more than one audited row).
2. audit.verify() over a million log rows (goal: under 30 s).

Runs its own embedded PostgreSQL in a temporary directory; nothing else is touched.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import psycopg

from api.postgres.embedded import EmbeddedServer, default_bindir
from api.postgres.migrate import migrate

TABLES = """
create table public.bench_plain (
    id serial primary key, user_id int, description text not null,
    status varchar(50) default 'pending', created_at timestamp default now());
create table public.bench_audited (
    id serial primary key, user_id int, description text not null,
    status varchar(50) default 'pending', created_at timestamp default now());
select audit.enable_tracking('public.bench_audited');
create table public.bench_orders_plain (like public.orders including defaults including constraints including indexes);
"""

SCRIPT = """\\set uid random(1, 1000)
insert into public.{table} (user_id, description) values (NULL, 'bench order ' || :uid);
"""
UPDATE = """\\set id random(1, 10000)
update public.{table} set description = 'updated ' || :id where id = :id;
"""
ROWS = """
insert into public.bench_plain (description) select 'row ' || g from generate_series(1, 10000) g;
insert into public.bench_audited (description) select 'row ' || g from generate_series(1, 10000) g;
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def pgbench(server: EmbeddedServer, dbname: str, table: str, clients: int, seconds: int, workdir: Path,
            template: str = SCRIPT) -> float:
    script = workdir / f"{table}-{hash(template) & 0xffff}.sql"
    script.write_text(template.format(table=table))
    script.chmod(0o644)
    env = dict(os.environ, PGHOST=str(server.sockdir), PGPORT=str(server.port), PGUSER="postgres")
    out = subprocess.run(
        [str(server.bindir / "pgbench"), "-n", "-c", str(clients), "-j", str(clients), "-T", str(seconds),
         "-f", str(script), dbname],
        capture_output=True, text=True, check=True, env=env,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("tps ="))
    return float(line.split()[2])


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def sealer(dsn: str, stop: threading.Event) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        while not stop.wait(1.0):
            conn.execute("select count(*) from audit.seal()")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=15, help="pgbench duration per measurement")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds; the median is reported")
    parser.add_argument("--verify-rows", type=int, default=1_000_000, help="log rows for the verify() timing")
    parser.add_argument("--wait-for-disk", action="store_true",
                        help="keep synchronous_commit on (default: off, so that the disk does not hide the CPU cost)")
    parser.add_argument("--clients", type=lambda v: [int(x) for x in v.split(",")], default=[1, 2, 4],
                        help="pgbench client counts, comma-separated (default 1,2,4)")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="strongroom-bench-"))
    home.chmod(0o755)
    server = EmbeddedServer(home=home, port=free_port(), bindir=default_bindir(),
                            run_as=os.environ.get("STRONGROOM_PG_USER", "strongroom"), database="bench")
    try:
        server.start()
        dsn = server.dsn("bench")
        migrate(dsn, say=lambda _: None)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(TABLES)  # type: ignore[arg-type]

        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(ROWS)  # type: ignore[arg-type]
            if not args.wait_for_disk:
                # The ratio is about what the audit costs in CPU; commits waiting for a shared disk hide it.
                conn.execute("alter database bench set synchronous_commit = off")
        stop = threading.Event()
        thread = threading.Thread(target=sealer, args=(dsn, stop), daemon=True)
        thread.start()
        print(f"pgbench: one statement per transaction, {args.seconds}s each, medians of {args.rounds} rounds, "
              f"synchronous_commit {'on' if args.wait_for_disk else 'off'}, audit.seal() every second alongside; "
              f"load average {load_average()} on {os.cpu_count()} cores")
        print(f"{'clients':>7}  {'insert plain':>12}  {'audited':>8}  {'ratio':>5}  {'orders':>7}  "
              f"{'orders/audited':>14}  {'orders copy':>11}  {'audit us: order / row':>21}  {'update plain':>12}  "
              f"{'audited':>8}  {'ratio':>5}")
        worst = {"insert": 9.0, "update": 9.0, "order": 9.0, "order_cost": 0.0}
        for clients in args.clients:
            runs: dict[str, list[float]] = {
                k: [] for k in ("plain", "audited", "orders", "oplain", "uplain", "uaudited")}
            for _ in range(args.rounds):
                runs["plain"].append(pgbench(server, "bench", "bench_plain", clients, args.seconds, home))
                runs["audited"].append(pgbench(server, "bench", "bench_audited", clients, args.seconds, home))
                runs["orders"].append(pgbench(server, "bench", "orders", clients, args.seconds, home))
                runs["oplain"].append(pgbench(server, "bench", "bench_orders_plain", clients, args.seconds, home))
                runs["uplain"].append(pgbench(server, "bench", "bench_plain", clients, args.seconds, home, UPDATE))
                runs["uaudited"].append(
                    pgbench(server, "bench", "bench_audited", clients, args.seconds, home, UPDATE))
            m = {k: statistics.median(v) for k, v in runs.items()}
            # microseconds of one transaction's time that the audit adds, with `clients` transactions at once
            row_us = clients * 1e6 * (1 / m["audited"] - 1 / m["plain"])
            order_us = clients * 1e6 * (1 / m["orders"] - 1 / m["oplain"])
            worst["insert"] = min(worst["insert"], m["audited"] / m["plain"])
            worst["update"] = min(worst["update"], m["uaudited"] / m["uplain"])
            worst["order"] = min(worst["order"], m["orders"] / m["audited"])
            worst["order_cost"] = max(worst["order_cost"], order_us / row_us)
            print(f"{clients:>7}  {m['plain']:>12.0f}  {m['audited']:>8.0f}  {m['audited'] / m['plain']:>5.2f}  "
                  f"{m['orders']:>7.0f}  {m['orders'] / m['audited']:>14.2f}  {m['oplain']:>11.0f}  "
                  f"{order_us:>5.0f} / {row_us:<5.0f}  {m['uplain']:>12.0f}  "
                  f"{m['uaudited']:>8.0f}  {m['uaudited'] / m['uplain']:>5.2f}")
        stop.set()
        thread.join()
        print(f"worst audited/plain: insert {worst['insert']:.2f}, update {worst['update']:.2f} (goal >= 0.7); "
              f"orders/audited {worst['order']:.2f}; an order's audit / an audited row's {worst['order_cost']:.2f} "
              f"(goal <= 1.0); load average {load_average()}")

        with psycopg.connect(dsn, autocommit=True) as conn:
            have = conn.execute("select count(*) from public.logs").fetchone()[0]  # type: ignore[index]
            missing = max(0, args.verify_rows - have)
            conn.execute(
                "insert into public.logs (level, component, action, message, details)"
                " select 'INFO', 'bench', 'bench', 'row ' || g, jsonb_build_object('n', g)"
                " from generate_series(1, %s) g",
                [missing],
            )
            conn.execute("select count(*) from audit.seal()")
            started = time.monotonic()
            ok, rows, blocks = conn.execute(
                "select ok, rows_checked, blocks_checked from audit.verify()").fetchone()  # type: ignore[misc]
            took = time.monotonic() - started
        print(f"verify(): {rows:,} rows in {blocks:,} blocks, ok={ok}, {took:.1f} s "
              f"({rows / took:,.0f} rows/s: {took / rows * 1e6:.1f} s per million rows, goal under 30 s); "
              f"load average {load_average()}")
    finally:
        server.remove()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
