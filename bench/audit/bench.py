"""The audit trail's cost, measured against its limit in the same run.

1. pgbench, 2 and 4 clients: plain inserts into an orders-like table, the same table with the audit
   trigger (one logs row with images and row hash per insert), and the real `orders` table (a logs row
   and an order_logs row per insert), while audit.seal() runs every second alongside. Prints TPS and the
   ratio to plain (goal: >= 0.85 for the audited table).
2. audit.verify() over a million log rows (goal: under a minute).

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
"""

SCRIPT = """\\set uid random(1, 1000)
insert into public.{table} (user_id, description) values (NULL, 'bench order ' || :uid);
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def pgbench(server: EmbeddedServer, dbname: str, table: str, clients: int, seconds: int, workdir: Path) -> float:
    script = workdir / f"{table}.sql"
    script.write_text(SCRIPT.format(table=table))
    script.chmod(0o644)
    env = dict(os.environ, PGHOST=str(server.sockdir), PGPORT=str(server.port), PGUSER="postgres")
    out = subprocess.run(
        [str(server.bindir / "pgbench"), "-n", "-c", str(clients), "-j", str(clients), "-T", str(seconds),
         "-f", str(script), dbname],
        capture_output=True, text=True, check=True, env=env,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("tps ="))
    return float(line.split()[2])


def sealer(dsn: str, stop: threading.Event) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        while not stop.wait(1.0):
            conn.execute("select count(*) from audit.seal()")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=15, help="pgbench duration per measurement")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds; the median is reported")
    parser.add_argument("--verify-rows", type=int, default=1_000_000, help="log rows for the verify() timing")
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

        stop = threading.Event()
        thread = threading.Thread(target=sealer, args=(dsn, stop), daemon=True)
        thread.start()
        print("pgbench: one INSERT per transaction, audit.seal() every second alongside")
        print(f"{'clients':>7}  {'plain tps':>10}  {'audited tps':>11}  {'ratio':>5}  {'orders tps':>10}  {'ratio':>5}")
        for clients in (2, 4):
            runs: dict[str, list[float]] = {"bench_plain": [], "bench_audited": [], "orders": []}
            for _ in range(args.rounds):
                for table, samples in runs.items():
                    samples.append(pgbench(server, "bench", table, clients, args.seconds, home))
            plain, audited, orders = (statistics.median(runs[t]) for t in runs)
            print(f"{clients:>7}  {plain:>10.0f}  {audited:>11.0f}  {audited / plain:>5.2f}  {orders:>10.0f}  "
                  f"{orders / plain:>5.2f}")
        stop.set()
        thread.join()

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
              f"({rows / took:,.0f} rows/s; goal: 1,000,000 rows in under 60 s)")
    finally:
        server.remove()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
