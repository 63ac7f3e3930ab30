"""bench/crypto: our encrypt/decrypt and reencrypt against raw pgcrypto with the same options, in one run.

Prints, each against a limit measured in the same run on the same server:
- rows/s of private.encrypt and private.decrypt against raw pgp_sym_encrypt / pgp_sym_decrypt with the
  same options and key (goal: our overhead <= 25%);
- rows/s of re-encryption as the CLI drives it against one raw UPDATE that re-encrypts the same rows (goal >= 0.5);
- the p99 latency of concurrent writes (api.create_entry) while reencrypt runs, next to the idle p99;
- pgbench tx/s of the SQL POST /orders runs, sensitive against plain (goal >= 0.8), with the data key
  wrapped as wrap_key does now (salted S2K) and, for comparison, as it used to be (iterated S2K).

With DATABASE_URL set it uses that server (a scratch database is created and dropped); otherwise an
embedded PostgreSQL in a temporary directory. Not a test: it asserts nothing and only reports.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import psycopg
from psycopg import conninfo, sql

from api import reencryption
from api.postgres.embedded import EmbeddedServer, default_bindir
from api.postgres.migrate import migrate

OPTIONS = "cipher-algo=aes256, s2k-mode=1"
MASTER = base64.b64encode(secrets.token_bytes(32)).decode()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def timed(conn: psycopg.Connection, statement: str, params: list[object]) -> float:
    """Wall time of one statement, in its own transaction with the master key set."""
    with conn.transaction():
        conn.execute("select set_config('strongroom.master_key', %s, true)", [MASTER])
        started = time.perf_counter()
        conn.execute(statement, params)  # type: ignore[arg-type]
        return time.perf_counter() - started


def best_of_pairs(
    conn: psycopg.Connection, raw: tuple[str, list[object]], ours: tuple[str, list[object]], repeat: int = 5
) -> tuple[float, float]:
    """Best times of the raw and our statement, run alternately so that other load hits both alike."""
    best_raw = best_ours = float("inf")
    for _ in range(repeat):
        best_raw = min(best_raw, timed(conn, *raw))
        best_ours = min(best_ours, timed(conn, *ours))
    return best_raw, best_ours


def field_encryption(conn: psycopg.Connection, rows: int) -> None:
    with conn.transaction():
        conn.execute("select set_config('strongroom.master_key', %s, true)", [MASTER])
        key_id, key = conn.execute("select id, private.data_key(id) from aes_keys where state = 'active'").fetchone()  # type: ignore[misc]
    value = "an order description of typical length, forty-some characters"
    raw_enc, our_enc = best_of_pairs(
        conn,
        (
            "select count(public.pgp_sym_encrypt(%s || g, %s, %s)) from generate_series(1, %s) g",
            [value, key, OPTIONS, rows],
        ),
        (
            "select count(private.encrypt(%s || g, %s, private.place('entries', 'content', 1, g)))"
            " from generate_series(1, %s) g",
            [value, key_id, rows],
        ),
    )
    conn.execute("drop table if exists bench_cipher")
    with conn.transaction():
        conn.execute("select set_config('strongroom.master_key', %s, true)", [MASTER])
        conn.execute(
            "create table bench_cipher as select g,"
            " private.encrypt(%s || g, %s, private.place('entries', 'content', 1, g)) as c,"
            " public.pgp_sym_encrypt(%s || g, %s, %s) as c_raw from generate_series(1, %s) g",
            [value, key_id, value, key, OPTIONS, rows],
        )
    raw_dec, our_dec = best_of_pairs(
        conn,
        ("select count(public.pgp_sym_decrypt(c_raw, %s)) from bench_cipher", [key]),
        ("select count(private.decrypt(c, %s, private.place('entries', 'content', 1, g))) from bench_cipher", [key_id]),
    )
    conn.execute("drop table bench_cipher")
    print(f"field encryption, {rows} rows of ~{len(value)} characters:")
    print(
        f"  encrypt  raw {rows / raw_enc:9.0f} rows/s   ours {rows / our_enc:9.0f} rows/s   "
        f"overhead {100 * (our_enc / raw_enc - 1):5.1f}%  (goal <= 25%)"
    )
    print(
        f"  decrypt  raw {rows / raw_dec:9.0f} rows/s   ours {rows / our_dec:9.0f} rows/s   "
        f"overhead {100 * (our_dec / raw_dec - 1):5.1f}%  (goal <= 25%)"
    )


def rotate(conn: psycopg.Connection) -> tuple[int, int]:
    with conn.transaction():
        conn.execute("select set_config('strongroom.master_key', %s, true)", [MASTER])
        return conn.execute("select old_key_id, new_key_id from api.rotate_key()").fetchone()  # type: ignore[return-value]


def write_latencies(dsn: str, user: int, count: int, stop: threading.Event | None = None) -> list[float]:
    out: list[float] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        for i in range(count):
            if stop is not None and stop.is_set() and i >= 50:
                break
            started = time.perf_counter()
            with conn.transaction():
                conn.execute(
                    "select api.begin_request(%s, 'user', 1), set_config('strongroom.master_key', %s, true)",
                    [user, MASTER],
                )
                conn.execute("select api.create_entry('latency', %s)", [f"probe {i}"])
            out.append(time.perf_counter() - started)
    return out


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98] * 1000


def reencryption_rate(conn: psycopg.Connection, dsn: str, rows: int, batch: int) -> None:
    user = conn.execute("insert into users (username, hashed_password) values ('bench', 'x') returning id").fetchone()[
        0
    ]  # type: ignore[index]
    with conn.transaction():
        conn.execute("select set_config('strongroom.master_key', %s, true)", [MASTER])
        conn.execute(
            "insert into entries (id, user_id, title, content_enc, content_key_id)"
            " select g, %s, 't', private.encrypt('some note ' || g, k.id, private.place('entries', 'content', %s, g)),"
            " k.id from generate_series(1, %s) g, aes_keys k where k.state = 'active'",
            [user, user, rows],
        )
        conn.execute("select setval('entries_id_seq', %s)", [rows])
    conn.execute("vacuum analyze entries")

    raw = ours = float("inf")
    for _ in range(3):  # alternate, so that other load on the machine hits both alike
        raw = min(raw, raw_update(conn))
        conn.execute("vacuum analyze entries")
        ours = min(ours, call_reencrypt(dsn, batch))
        conn.execute("vacuum analyze entries")

    idle = write_latencies(dsn, user, 300)
    stop = threading.Event()
    during: list[float] = []
    writer = threading.Thread(target=lambda: during.extend(write_latencies(dsn, user, 100000, stop)))
    writer.start()
    call_reencrypt(dsn, batch)
    stop.set()
    writer.join()
    print(f"re-encryption, {rows} rows, batches of {batch} (best of 3 each):")
    print(
        f"  raw UPDATE {rows / raw:9.0f} rows/s   batches {rows / ours:9.0f} rows/s   "
        f"ratio {raw / ours:4.2f}  (goal >= 0.5)"
    )
    print(
        f"  write p99 (api.create_entry)  idle {p99(idle):7.2f} ms   during reencrypt {p99(during):7.2f} ms   "
        f"({len(during)} writes during it)"
    )


def raw_update(conn: psycopg.Connection) -> float:
    """Rotate, then move every row to the new key with one UPDATE of raw pgcrypto calls."""
    old, new = rotate(conn)
    with conn.transaction():
        conn.execute("select set_config('strongroom.master_key', %s, true)", [MASTER])
        old_hex, new_hex = conn.execute("select private.data_key(%s), private.data_key(%s)", [old, new]).fetchone()  # type: ignore[misc]
        started = time.perf_counter()
        conn.execute(
            "update entries set content_enc = pgp_sym_encrypt("
            "   pgp_sym_decrypt(content_enc, %s || '/entries.content/' || user_id || '/' || id),"
            "   %s || '/entries.content/' || user_id || '/' || id, %s),"
            " content_key_id = %s where content_key_id = %s",
            [old_hex, new_hex, OPTIONS, new, old],
        )
        return time.perf_counter() - started


def call_reencrypt(dsn: str, batch: int) -> float:
    """Rotate, then re-encrypt as the CLI does (api/reencryption.py: one batch per transaction)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        rotate(conn)
    started = time.perf_counter()
    with reencryption.sql_batches(dsn, MASTER, "strongroom_admin") as step:
        reencryption.run(step, batch)
    return time.perf_counter() - started


ORDER_SCRIPT = (
    "begin;\n"
    "select api.begin_request(:uid, 'user', :tv, 'bench', null);\n"
    "select pg_catalog.set_config('strongroom.master_key', :mk, true);\n"
    "select id from api.create_order('bench order of typical length', {sensitive});\n"
    "commit;\n"
)


def pgbench_tps(pgbench: Path, dsn: str, script: Path, variables: dict[str, str], seconds: int, clients: int) -> float:
    defines = [arg for name, value in variables.items() for arg in ("-D", f"{name}={value}")]
    out = subprocess.run(
        [str(pgbench), "-n", "-M", "prepared", "-c", str(clients), "-j", str(min(clients, 2)), "-T", str(seconds),
         *defines, "-f", str(script), dsn],
        capture_output=True, text=True, check=True,
    ).stdout
    found = re.search(r"tps = ([\d.]+)", out)
    assert found, out
    return float(found.group(1))


def wrap_iterated(conn: psycopg.Connection, iterated: bool) -> None:
    """Wrap the active key as older versions did (iterated S2K), or as wrap_key does now."""
    with conn.transaction():
        conn.execute("select set_config('strongroom.master_key', %s, true)", [MASTER])
        if iterated:
            conn.execute(
                "update aes_keys set key_value = armor(pgp_sym_encrypt_bytea("
                " private.unwrap_key(id, %s), %s, 'cipher-algo=aes256')) where state = 'active'",
                [MASTER, MASTER],
            )
        else:
            conn.execute("select private.rewrap_iterated_keys()")


def sensitive_writes(
    conn: psycopg.Connection, dsn: str, pgbench: Path, seconds: int, clients: int, rounds: int
) -> None:
    """Sensitive against plain create_order through pgbench, interleaved rounds, medians."""
    user, version = conn.execute(
        "insert into users (username, hashed_password) values ('bench-orders', 'x') returning id, token_version"
    ).fetchone()  # type: ignore[misc]
    variables = {"uid": str(user), "tv": str(version), "mk": MASTER}
    work = Path(tempfile.mkdtemp(prefix="strongroom-bench-orders-"))
    scripts = {}
    for name, sensitive in (("plain", "false"), ("sensitive", "true")):
        scripts[name] = work / f"{name}.sql"
        scripts[name].write_text(ORDER_SCRIPT.format(sensitive=sensitive))
    tps: dict[str, list[float]] = {"plain": [], "sensitive": [], "sensitive, iterated wrap": []}
    try:
        for _ in range(rounds):
            tps["plain"].append(pgbench_tps(pgbench, dsn, scripts["plain"], variables, seconds, clients))
            tps["sensitive"].append(pgbench_tps(pgbench, dsn, scripts["sensitive"], variables, seconds, clients))
            wrap_iterated(conn, True)
            tps["sensitive, iterated wrap"].append(
                pgbench_tps(pgbench, dsn, scripts["sensitive"], variables, seconds, clients))
            wrap_iterated(conn, False)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    median = {name: statistics.median(values) for name, values in tps.items()}
    print(f"create_order through pgbench, {clients} clients, medians of {rounds} rounds of {seconds} s"
          f" (load average {os.getloadavg()[0]:.2f}):")
    for name, value in median.items():
        print(f"  {name:26} {value:8.0f} tx/s   / plain {value / median['plain']:5.2f}"
              + ("   (goal >= 0.8)" if name == "sensitive" else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000, help="rows per measurement (default 20000)")
    parser.add_argument("--batch-size", type=int, default=1000, help="reencrypt batch size (default 1000)")
    parser.add_argument("--pgbench-seconds", type=int, default=5, help="seconds per pgbench run (default 5)")
    parser.add_argument("--pgbench-rounds", type=int, default=3, help="interleaved pgbench rounds (default 3)")
    parser.add_argument("--clients", type=int, default=8, help="pgbench clients (default 8)")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL")
    server = None
    home = None
    if url:
        admin = url
    else:
        home = Path(tempfile.mkdtemp(prefix="strongroom-bench-"))
        server = EmbeddedServer(
            home=home,
            port=free_port(),
            bindir=default_bindir(),
            run_as=os.environ.get("STRONGROOM_PG_USER", "strongroom"),
            database="postgres",
        )
        server.start()
        admin = server.dsn("postgres")
    name = f"strongroom_bench_{secrets.token_hex(4)}"
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        params = conninfo.conninfo_to_dict(admin)
        params["dbname"] = name
        dsn = conninfo.make_conninfo(**{k: str(v) for k, v in params.items() if v is not None})
        migrate(dsn, master_key=MASTER, say=lambda _: None)
        with psycopg.connect(dsn, autocommit=True) as conn:
            version = conn.execute("show server_version").fetchone()[0]  # type: ignore[index]
            print(f"PostgreSQL {version}; {os.cpu_count()} cores")
            bindir = server.bindir if server is not None else default_bindir()
            sensitive_writes(conn, dsn, bindir / "pgbench", args.pgbench_seconds, args.clients, args.pgbench_rounds)
            field_encryption(conn, args.rows)
            reencryption_rate(conn, dsn, args.rows, args.batch_size)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        if server is not None:
            server.remove()
        if home is not None:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
