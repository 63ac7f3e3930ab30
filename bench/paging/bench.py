"""Paging that stays flat: what a page of api.list_orders / list_entries / list_vault_sites / list_logs
costs as rows grow, and what the DBA's ready queries cost as the log grows.

Three owners: `small` (1k rows, old), `large` (100k rows, old) and `others` (100k newer rows of someone
else, loaded last, so a plan that walks the primary key from the newest row wades through them first).
One in five orders is sensitive (encrypted), so a page decrypts about ten descriptions; vault items are
all encrypted (only the rows a page can show are real ciphertext: a page that decrypts any other fails).
Each owner also has as many `logs` events about them, and as many API-call records of theirs, newer
than those (a user's default log page leaves them out, so a plan that walks past them shows). For each
owner it times the first page and a deep one (before the owner's 50 oldest rows), with plan_cache_mode
forced to custom and to generic plans, and prints the median ms of `--calls` calls of each, then the
goals: deep / first within 1.5, and large / small within 1.5.

The DBA's queries (sql/80_dba_queries.sql) are timed on a few events of the last hour before the bulk
load and again after it (the bulk's events are dated months back, as a log's history is): the same
query on a small and a large table, goal within 1.5.

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
insert into public.vault (user_id, key_id, site_index, site_enc, login_enc, secret_enc)
select u.id, k.id, '\\x00'::bytea, '\\x00'::bytea, '\\x00'::bytea, '\\x00'::bytea
  from (values ('small', {small}), ('large', {large}), ('others', {others})) as w(name, n)
  join public.users u on u.username = w.name
  cross join lateral generate_series(1, w.n) g
  cross join (select id from public.aes_keys where state = 'active') k
 order by w.name = 'others', u.id, g;
-- The log's history, dated months back (a log grows over time; the DBA's windows are recent).
insert into public.logs (level, component, action, message, user_id, actor_id, table_name, row_id, txid, db_role,
                         logged_at)
select 'INFO', 'orders', 'insert', 'order ' || g, u.id, u.id, 'orders', -g, pg_catalog.pg_current_xact_id(),
       'strongroom_user', pg_catalog.now() - interval '90 days' + g * interval '1 second'
  from (values ('small', {small}), ('large', {large}), ('others', {others})) as w(name, n)
  join public.users u on u.username = w.name
  cross join lateral generate_series(1, w.n) g
 order by w.name = 'others', u.id, g;
insert into public.logs (level, component, action, message, actor_id, txid, db_role, logged_at)
select 'INFO', 'api', 'api_call', 'GET /orders 200', u.id, pg_catalog.pg_current_xact_id(), 'strongroom_authenticator',
       pg_catalog.now() - interval '60 days' + g * interval '1 second'
  from (values ('small', {small}), ('large', {large})) as w(name, n)
  join public.users u on u.username = w.name
  cross join lateral generate_series(1, w.n) g
 order by u.id, g;
set session_replication_role = origin;
"""

# A log that grew month by month has a partition for each month (audit.ensure_partitions made it ahead of
# time). They are made before the DBA queries are first timed, so that the small and the large log have the
# same months and differ only in rows; the history then goes into its months' partitions.
HISTORY_MONTHS = """
do $$
declare
    v_month timestamptz;
begin
    for v_month in select pg_catalog.generate_series(
                              pg_catalog.date_trunc('month', pg_catalog.now() - interval '90 days', 'UTC'),
                              pg_catalog.date_trunc('month', pg_catalog.now(), 'UTC') - interval '1 month',
                              interval '1 month')
    loop
        continue when audit.partition_of(audit.partition_name('logs', v_month)) is not null;
        execute pg_catalog.format(
            'create table log_partitions.%I partition of public.logs for values from (%L) to (%L)',
            audit.partition_name('logs', v_month), v_month, v_month + interval '1 month');
    end loop;
end
$$;
select audit.ensure_partitions();
"""

# A sensitive order's ciphertext is bound to its row id; the load encrypted for place -g, so bind them
# the way the API would by re-encrypting the bench's sensitive rows with their real ids.
REBIND = """
update public.orders o set description_enc = private.encrypt('order ' || o.id, o.description_key_id,
                                                             private.place('orders', 'description', null, o.id))
 where o.sensitive
"""

# The vault rows a timed page can show (each owner's newest 60 and oldest 110) get real ciphertext.
VAULT = """
update public.vault v
   set site_enc = private.encrypt('site' || v.id, v.key_id, private.place('vault', 'site', v.user_id, v.id)),
       login_enc = private.encrypt('me', v.key_id, private.place('vault', 'login', v.user_id, v.id))
  from (select x.id, row_number() over (partition by x.user_id order by x.id) as up,
               row_number() over (partition by x.user_id order by x.id desc) as down from public.vault x) r
 where r.id = v.id and (r.up <= 110 or r.down <= 60)
"""

# A few events of the last hour for the DBA's queries to find (an order's history, a key's, a request's,
# failed logins and a lock, a refused access, a change made directly in the database).
STORY = """
insert into public.logs (level, component, action, message, user_id, actor_id, table_name, row_id, request_id,
                         db_role, details)
select 'INFO', c, a, a, u, act, t, r, 'req-bench', role, d::jsonb
  from (select id from public.users where username = 'small') s,
       lateral (values ('orders', 'insert', s.id, s.id, 'orders', 1, 'strongroom_user', null),
                       ('orders', 'update', s.id, s.id, 'orders', 1, 'strongroom_user', null),
                       ('keys', 'insert', s.id, s.id, 'aes_keys', 1, 'strongroom_admin', null),
                       ('auth', 'login_failed', s.id, null, null, null, 'strongroom_authenticator', null),
                       ('auth', 'account_locked', s.id, null, null, null, 'strongroom_authenticator',
                        '{"scope": "account"}'),
                       ('authz', 'access_refused', s.id, s.id, 'orders', 2, 'strongroom_user', null),
                       ('orders', 'update', null, null, 'orders', 3, 'postgres', null))
               as e (c, a, u, act, t, r, role, d);
"""

DBA = {
    "order_history": "select * from audit.order_history(1)",
    "key_events": "select * from audit.key_events(1)",
    "request_trail": "select * from audit.request_trail('req-bench')",
    "user_activity": "select * from audit.user_activity({small}, now() - interval '1 hour', now() + interval '1 hour')",
    "failed_logins": "select * from audit.failed_logins()",
    "direct_changes": "select * from audit.direct_changes(now() - interval '1 hour')",
    "refused_access": "select * from audit.refused_access()",
    "account_locks": "select * from audit.account_locks()",
}


def time_dba(dsn: str, small: int, calls: int) -> dict[str, float]:
    """Median ms of each DBA query, as the superuser a DBA's psql session is."""
    out = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        for name, query in DBA.items():
            samples = []
            for _ in range(calls + 1):
                started = time.perf_counter()
                rows = conn.execute(query.format(small=small).encode()).fetchall()
                samples.append((time.perf_counter() - started) * 1000)
                assert rows, name
            out[name] = statistics.median(samples[1:])
    return out


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
            conn.execute(HISTORY_MONTHS.encode())
            conn.execute("insert into public.users (username, hashed_password) values ('small', '-')")
            story_rows = conn.execute(STORY.encode()).rowcount
            conn.execute("vacuum analyze public.logs, public.order_logs, public.key_logs")
            small_id = conn.execute("select id from public.users where username = 'small'").fetchone()[0]  # type: ignore[index]
        dba_small = time_dba(dsn, small_id, args.calls)
        with psycopg.connect(dsn, autocommit=True) as conn:
            with conn.transaction():
                conn.execute("select set_config('strongroom.master_key', %s, true)", [master_key])
                conn.execute(LOAD.format(**vars(args)).replace(" values ('small', '-'),", " values").encode())
                conn.execute("set local session_replication_role = replica")
                conn.execute(REBIND)  # type: ignore[arg-type]
                conn.execute(VAULT)  # type: ignore[arg-type]
            conn.execute("vacuum analyze public.orders, public.entries, public.vault, public.users, public.logs")
            owners = dict(conn.execute("select username, id from public.users").fetchall())  # type: ignore[arg-type]
            log_rows = conn.execute("select count(*) from public.logs").fetchone()[0]  # type: ignore[index]
        dba_large = time_dba(dsn, small_id, args.calls)
        with psycopg.connect(server.dsn("bench", user="strongroom_authenticator"), autocommit=True) as conn:
            conn.execute("select set_config('strongroom.master_key', %s, false)", [master_key])
            print(f"Paging: median ms of {args.calls} calls per page, 50 rows a page; load average "
                  f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
            print(f"{'function':<20} {'plans':<8} {'owner':<7} {'rows':>7}  {'first':>7}  {'deep':>7}  "
                  f"{'deep/first':>10}  (goal <= 1.5)")
            worst_depth = worst_size = 0.0
            calls = {"api.list_orders": ("orders", "select * from api.list_orders(null, %s, 50)"),
                     "api.list_entries": ("entries", "select * from api.list_entries(%s, 50)"),
                     "api.list_vault_sites": ("vault", "select * from api.list_vault_sites(%s, 50)"),
                     "api.list_logs": ("logs", "select * from api.list_logs(%s, 50)")}
            for function, (table, call) in calls.items():
                for mode in ("force_custom_plan", "force_generic_plan"):
                    first_by_owner = {}
                    for owner, rows in (("small", args.small), ("large", args.large)):
                        uid = owners[owner]
                        with psycopg.connect(dsn) as admin:
                            oldest = admin.execute(
                                f"select id from public.{table} where user_id = %s"
                                " order by id offset 50 limit 1", [uid]).fetchone()[0]  # type: ignore[index]
                        first = timed(conn, uid, mode, call, None, args.calls)
                        deep = timed(conn, uid, mode, call, oldest, args.calls)
                        first_by_owner[owner] = max(first, deep)
                        worst_depth = max(worst_depth, deep / first)
                        print(f"{function:<20} {mode.split('_')[1]:<8} {owner:<7} {rows:>7}  {first:>7.2f}  "
                              f"{deep:>7.2f}  {deep / first:>10.2f}")
                    size = first_by_owner["large"] / first_by_owner["small"]
                    worst_size = max(worst_size, size)
                    print(f"{function:<20} {mode.split('_')[1]:<8} large/small {size:.2f}  (goal <= 1.5)")
            print(f"worst deep/first page: {worst_depth:.2f} (goal <= 1.5); "
                  f"worst {args.large:,} rows / {args.small:,} rows: {worst_size:.2f} (goal <= 1.5)")
        print(f"DBA queries: median ms of {args.calls} calls on {story_rows} recent events, then beside "
              f"{log_rows:,} log rows of history; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        worst_growth = 0.0
        for name in DBA:
            growth = dba_large[name] / dba_small[name]
            worst_growth = max(worst_growth, growth)
            print(f"{'audit.' + name:<22} {dba_small[name]:>7.2f}  {dba_large[name]:>7.2f}  large/small {growth:>5.2f}")
        print(f"worst DBA query large/small: {worst_growth:.2f} (goal <= 1.5)")
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
