"""The audit trail's cost, measured against its limit in the same run.

1. pgbench at 1, 2 and 4 clients, one statement per transaction: INSERTs into an orders-like table, the same
   table with the audit trigger (one logs row with images and row hash per insert), and the real `orders`
   table (its audit rows) and a copy of `orders` without them; then UPDATEs of a row picked at random in the
   plain and the audited table. audit.seal() runs every second alongside. Prints TPS, the ratio of audited
   to plain (goal >= 0.7, issue 18 item 6), of `orders` to the audited table, and what an order's audit
   costs against one audited row's (microseconds per transaction, orders against its copy beside audited
   against plain; goal <= 1: an order costs no more than one audited row).
   Beside them, in the same rounds, two floors that no row-level audit written by a trigger can go below:
   the same table with a PL/pgSQL AFTER trigger that does nothing, and with a trigger that writes the
   least an audit row can be (table, operation, the row's images as jsonb, a bigserial key and a time: no
   context, no hash, no other index, no partitioning, not append-only), as the classic audit-trigger
   does. The goal is measured against plain; the floors say how much of the gap any such audit pays.
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
-- The floors: a trigger doing nothing, and the least audit row a trigger can write.
create table public.bench_trigger (like public.bench_plain including defaults including indexes);
create function public.bench_nothing() returns trigger language plpgsql as $$ begin return null; end $$;
create trigger audit after insert or update or delete on public.bench_trigger
    for each row execute function public.bench_nothing();
create table public.bench_image_log (
    id bigserial primary key, at timestamptz not null default now(), table_name text not null,
    operation text not null, before_image jsonb, after_image jsonb);
create table public.bench_image (like public.bench_plain including defaults including indexes);
create function public.bench_image_row() returns trigger language plpgsql as $$
begin
    insert into public.bench_image_log (table_name, operation, before_image, after_image)
    values (tg_table_name, tg_op, case when tg_op <> 'INSERT' then to_jsonb(old) end,
            case when tg_op <> 'DELETE' then to_jsonb(new) end);
    return null;
end
$$;
create trigger audit after insert or update or delete on public.bench_image
    for each row execute function public.bench_image_row();
create table public.bench_orders_plain (like public.orders including defaults including constraints including indexes);
"""

SCRIPT = """\\set uid random(1, 1000)
insert into public.{table} (user_id, description) values (NULL, 'bench order ' || :uid);
"""
# What each measurement inserts into (and updates).
INSERTS = {"plain": "bench_plain", "trigger": "bench_trigger", "image": "bench_image", "audited": "bench_audited",
           "orders": "orders", "oplain": "bench_orders_plain"}
UPDATES = {"plain": "bench_plain", "trigger": "bench_trigger", "image": "bench_image", "audited": "bench_audited"}
UPDATE = """\\set id random(1, 10000)
update public.{table} set description = 'updated ' || :id where id = :id;
"""
# The rows the UPDATEs pick from, in every table they run on.
ROWS = "".join(f"insert into public.{table} (description) select 'row ' || g from generate_series(1, 10000) g;\n"
               for table in ("bench_plain", "bench_trigger", "bench_image", "bench_audited"))


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
    parser.add_argument("--seconds", type=int, default=8, help="pgbench duration per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the median is reported")
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
        print("transactions/s, and each against plain: the floors (a trigger doing nothing; the least audit row a "
              "trigger can write) and Strongroom's audit (goal >= 0.7)")
        print(f"{'':>7}  {'':>9}  {'-' * 13 + ' floors ' + '-' * 13}  {'':>18}  {'-' * 11 + ' orders ' + '-' * 11}")
        print(f"{'clients':>7}  {'plain':>9}  {'no-op trigger':>16}  {'image row':>16}  {'audited':>18}  "
              f"{'orders':>6}  {'copy':>6}  {'audit us: order/row':>19}")
        worst = {"insert": 9.0, "update": 9.0, "order": 9.0, "order_cost": 0.0}
        floors = {"": [9.0, 9.0], "u_": [9.0, 9.0]}  # the worst no-op trigger and image row, insert and update
        updates: list[str] = []
        for clients in args.clients:
            runs: dict[str, list[float]] = {k: [] for k in (*INSERTS, *(f"u_{t}" for t in UPDATES))}
            for _ in range(args.rounds):
                for key, table in INSERTS.items():
                    runs[key].append(pgbench(server, "bench", table, clients, args.seconds, home))
                for key, table in UPDATES.items():
                    runs[f"u_{key}"].append(pgbench(server, "bench", table, clients, args.seconds, home, UPDATE))
            m = {k: statistics.median(v) for k, v in runs.items()}
            # microseconds of one transaction's time that the audit adds, with `clients` transactions at once
            row_us = clients * 1e6 * (1 / m["audited"] - 1 / m["plain"])
            order_us = clients * 1e6 * (1 / m["orders"] - 1 / m["oplain"])
            worst["insert"] = min(worst["insert"], m["audited"] / m["plain"])
            worst["update"] = min(worst["update"], m["u_audited"] / m["u_plain"])
            worst["order"] = min(worst["order"], m["orders"] / m["audited"])
            worst["order_cost"] = max(worst["order_cost"], order_us / row_us)
            for kind in ("", "u_"):
                floors[kind] = [min(floors[kind][0], m[f"{kind}trigger"] / m[f"{kind}plain"]),
                                min(floors[kind][1], m[f"{kind}image"] / m[f"{kind}plain"])]
            insert, update = (f"{clients:>7}  {m[k + 'plain']:>9.0f}  " + "  ".join(
                f"{m[k + t]:>{w - 6}.0f} {m[k + t] / m[k + 'plain']:>5.2f}"
                for t, w in (("trigger", 16), ("image", 16), ("audited", 18))) for k in ("", "u_"))
            print(f"{insert}  {m['orders']:>6.0f}  {m['oplain']:>6.0f}  {order_us:>8.0f} / {row_us:<8.0f}")
            updates.append(update)
        print("UPDATEs of a random row, the same way:")
        print(f"{'clients':>7}  {'plain':>9}  {'no-op trigger':>16}  {'image row':>16}  {'audited':>18}")
        print("\n".join(updates))
        stop.set()
        thread.join()
        print(f"worst audited/plain: insert {worst['insert']:.2f}, update {worst['update']:.2f} (goal >= 0.7); "
              f"orders/audited {worst['order']:.2f}; an order's audit / an audited row's {worst['order_cost']:.2f} "
              f"(goal <= 1.0); load average {load_average()}")
        print(f"worst floors/plain: insert {floors[''][0]:.2f} (no-op trigger), {floors[''][1]:.2f} (image row); "
              f"update {floors['u_'][0]:.2f}, {floors['u_'][1]:.2f}")

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
