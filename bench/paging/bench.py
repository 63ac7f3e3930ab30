"""Paging that stays flat: what a page of api.list_orders / api.list_entries / api.list_logs costs as rows grow.

Three owners: `small` (1k rows, old), `large` (100k rows, old) and `others` (100k newer rows of someone
else, loaded last, so a plan that walks the primary key from the newest row wades through them first).
One in five orders is sensitive (encrypted), so a page decrypts about ten descriptions. Each owner also
has as many `logs` events about them (actor and subject). For each owner
it times the first page and a deep one (before the owner's 50 oldest rows), with plan_cache_mode forced
to custom and to generic plans, and prints the median ms of `--calls` calls of each, then the goals:
deep / first within 1.5, and large / small within 1.5.

Runs its own embedded PostgreSQL in a temporary directory; triggers are off for the bulk load only.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import tempfile
import time
from pathlib import Path

import psycopg

from api.postgres.embedded import EmbeddedServer, default_bindir
from api.postgres.migrate import migrate

LOAD = """
set session_replication_role = replica;  -- a bulk load: no audit rows, no triggers
insert into public.users (username, hashed_password) values ('small', '-'), ('large', '-'), ('others', '-');
insert into public.orders (user_id, description, sensitive, description_enc, description_key_id, created_at)
select u.id, case when g % 5 = 0 then '' else 'order ' || g end, g % 5 = 0,
       case when g % 5 = 0 then private.encrypt('order ' || g, k.id,
                                                private.place('orders', 'description', null, -g)) end,
       case when g % 5 = 0 then k.id end, pg_catalog.now()
  from (values ('small', {small}), ('large', {large}), ('others', {others})) as w(name, n)
  join public.users u on u.username = w.name
  cross join lateral generate_series(1, w.n) g
  cross join (select id from public.aes_keys where state = 'active') k
 order by w.name = 'others', u.id, g;
insert into public.entries (user_id, title, content_enc, content_key_id)
select u.id, 'note ' || g, '\\x00'::bytea, k.id
  from (values ('small', {small}), ('large', {large}), ('others', {others})) as w(name, n)
  join public.users u on u.username = w.name
  cross join lateral generate_series(1, w.n) g
  cross join (select id from public.aes_keys where state = 'active') k
 order by w.name = 'others', u.id, g;
insert into public.logs (level, component, action, message, user_id, actor_id, table_name, row_id, txid, db_role)
select 'INFO', 'orders', 'order_created', 'order ' || g, u.id, u.id, 'orders', g, pg_catalog.pg_current_xact_id(),
       'strongroom_user'
  from (values ('small', {small}), ('large', {large}), ('others', {others})) as w(name, n)
  join public.users u on u.username = w.name
  cross join lateral generate_series(1, w.n) g
 order by w.name = 'others', u.id, g;
set session_replication_role = origin;
"""

# A sensitive order's ciphertext is bound to its row id; the load encrypted for place -g, so bind them
# the way the API would by re-encrypting the bench's sensitive rows with their real ids.
REBIND = """
update public.orders o set description_enc = private.encrypt('order ' || o.id, o.description_key_id,
                                                             private.place('orders', 'description', null, o.id))
 where o.sensitive
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def timed(conn: psycopg.Connection, user_id: int, mode: str, call: str, before: int | None, calls: int) -> float:
    samples = []
    for _ in range(calls + 1):  # the first call warms the function's plans and is not counted
        with conn.transaction():
            conn.execute("select api.begin_request(%s, 'user', 1, 'bench', null)", [user_id])
            conn.execute("select set_config('plan_cache_mode', %s, true)", [mode])
            started = time.perf_counter()
            rows = conn.execute(call, [before]).fetchall()
            samples.append((time.perf_counter() - started) * 1000)
            assert len(rows) == 50, (call, len(rows))
    return statistics.median(samples[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=1_000, help="rows of the small owner")
    parser.add_argument("--large", type=int, default=100_000, help="rows of the large owner")
    parser.add_argument("--others", type=int, default=100_000, help="newer rows of another owner")
    parser.add_argument("--calls", type=int, default=15, help="calls per measurement; the median is printed")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="strongroom-bench-"))
    home.chmod(0o755)
    server = EmbeddedServer(home=home, port=free_port(), bindir=default_bindir(),
                            run_as=os.environ.get("STRONGROOM_PG_USER", "strongroom"), database="bench")
    master_key = os.urandom(32).hex()
    try:
        server.start()
        dsn = server.dsn("bench")
        migrate(dsn, master_key=master_key, say=lambda _: None)
        with psycopg.connect(dsn, autocommit=True) as conn:
            with conn.transaction():
                conn.execute("select set_config('strongroom.master_key', %s, true)", [master_key])
                conn.execute(LOAD.format(**vars(args)).encode())  # whole numbers only
                conn.execute("set local session_replication_role = replica")
                conn.execute(REBIND)  # type: ignore[arg-type]
            conn.execute("vacuum analyze public.orders, public.entries, public.users, public.logs")
            owners = dict(conn.execute("select username, id from public.users").fetchall())  # type: ignore[arg-type]
        with psycopg.connect(server.dsn("bench", user="strongroom_authenticator"), autocommit=True) as conn:
            conn.execute("select set_config('strongroom.master_key', %s, false)", [master_key])
            print(f"Paging: median ms of {args.calls} calls per page, 50 rows a page; load average "
                  f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
            print(f"{'function':<16} {'plans':<8} {'owner':<7} {'rows':>7}  {'first':>7}  {'deep':>7}  "
                  f"{'deep/first':>10}  (goal <= 1.5)")
            worst_depth = worst_size = 0.0
            calls = {"api.list_orders": "select * from api.list_orders(null, %s, 50)",
                     "api.list_entries": "select * from api.list_entries(%s, 50)",
                     "api.list_logs": "select * from api.list_logs(%s, 50)"}
            for function, call in calls.items():
                for mode in ("force_custom_plan", "force_generic_plan"):
                    first_by_owner = {}
                    for owner, rows in (("small", args.small), ("large", args.large)):
                        uid = owners[owner]
                        with psycopg.connect(dsn) as admin:
                            oldest = admin.execute(
                                f"select id from public.{function.split('_')[1]} where user_id = %s"
                                " order by id offset 50 limit 1", [uid]).fetchone()[0]  # type: ignore[index]
                        first = timed(conn, uid, mode, call, None, args.calls)
                        deep = timed(conn, uid, mode, call, oldest, args.calls)
                        first_by_owner[owner] = max(first, deep)
                        worst_depth = max(worst_depth, deep / first)
                        print(f"{function:<16} {mode.split('_')[1]:<8} {owner:<7} {rows:>7}  {first:>7.2f}  "
                              f"{deep:>7.2f}  {deep / first:>10.2f}")
                    worst_size = max(worst_size, first_by_owner["large"] / first_by_owner["small"])
            print(f"worst deep/first page: {worst_depth:.2f} (goal <= 1.5); "
                  f"worst {args.large:,} rows / {args.small:,} rows: {worst_size:.2f} (goal <= 1.5)")
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
