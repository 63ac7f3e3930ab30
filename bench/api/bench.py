"""bench/api: what the API costs on top of the SQL it calls, measured against limits in the same run.

    1. GET /health (an empty route): the framework's ceiling, req/s.
    2. POST /orders through uvicorn, against pgbench running the same SQL (begin_request + create_order
       in one transaction) at the same concurrency: req/s, p50/p99, and their ratio.
    3. POST /login: logins/s against cores / crypt() time at the configured bcrypt cost (goal >= 0.9).

It starts its own embedded PostgreSQL and uvicorn in a temporary directory with throwaway secrets, and
prints the ratios. Load generator: wrk if installed (Debian package `wrk`), else a small Python one.
Settings: BENCH_SECONDS (default 8), BENCH_CONCURRENCY (default 8).
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psycopg  # noqa: E402

from api.postgres.embedded import EmbeddedServer, default_bindir  # noqa: E402
from api.postgres.migrate import migrate  # noqa: E402
from api.testing.plugin import free_port  # noqa: E402

SECONDS = int(os.environ.get("BENCH_SECONDS", "8"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "8"))
PASSWORD = "a throwaway passphrase for load"  # a throwaway account in a throwaway cluster


def secret() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def wrk(url: str, script: str | None, seconds: int, connections: int, workdir: Path) -> tuple[float, float, float]:
    """req/s, p50 ms, p99 ms."""
    lua = workdir / "bench.lua"
    lua.write_text((script or "") + """
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %d %d\\n", summary.requests, summary.duration,
           latency:percentile(50), latency:percentile(99), summary.errors.status + summary.errors.connect
           + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
""")
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", str(lua), url],
                         capture_output=True, text=True, check=True).stdout
    requests, micros, p50, p99, errors = map(int, re.search(r"RESULT (\d+) (\d+) (\d+) (\d+) (\d+)", out).groups())
    if errors:
        print(f"  ({errors} non-2xx or failed requests)")
    return requests / (micros / 1e6), p50 / 1000, p99 / 1000


async def _python_load(url: str, method: str, bodies: list[str], headers: dict[str, str], seconds: int,
                       connections: int) -> tuple[float, float, float]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker(client: httpx.AsyncClient, n: int) -> None:
        body = bodies[n % len(bodies)].encode() if bodies else None
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await client.request(method, url, content=body, headers=headers)
            latencies.append((time.perf_counter() - started) * 1000)

    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=connections)) as client:
        began = time.perf_counter()
        await asyncio.gather(*(worker(client, n) for n in range(connections)))
        elapsed = time.perf_counter() - began
    quantiles = statistics.quantiles(latencies, n=100)
    return len(latencies) / elapsed, quantiles[49], quantiles[98]


def load(url: str, method: str, bodies: list[str], headers: dict[str, str], seconds: int, connections: int,
         workdir: Path) -> tuple[float, float, float]:
    """Requests in a loop on `connections` connections, cycling through `bodies`."""
    if shutil.which("wrk"):
        lines = [f'wrk.method = "{method}"']
        lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
        if bodies:
            lines.append("bodies = {" + ", ".join(f"[[{b}]]" for b in bodies) + "}")
            lines.append("n = 0\nrequest = function()\n  n = n + 1\n"
                         "  return wrk.format(nil, nil, nil, bodies[(n % #bodies) + 1])\nend")
        return wrk(url, "\n".join(lines), seconds, connections, workdir)
    return asyncio.run(_python_load(url, method, bodies, headers, seconds, connections))


def pgbench(server: EmbeddedServer, dbname: str, user_id: int, master_key: str, seconds: int, clients: int,
            workdir: Path) -> tuple[float, float]:
    """tps and mean latency (ms) of the SQL POST /orders runs, as the authenticator, prepared."""
    script = workdir / "orders.sql"
    script.write_text(
        "begin;\n"
        "select api.begin_request(:uid, 'user', 1, 'bench', null);\n"
        "select pg_catalog.set_config('strongroom.master_key', :mk, true);\n"
        "select * from api.create_order('bench order', false);\n"
        "commit;\n")
    os.chmod(workdir, 0o755)
    os.chmod(script, 0o644)
    out = subprocess.run(
        [str(server.bindir / "pgbench"), "-h", str(server.sockdir), "-p", str(server.port),
         "-U", "strongroom_authenticator", "-n", "-M", "prepared", "-c", str(clients), "-j", "2",
         "-T", str(seconds), "-D", f"uid={user_id}", "-D", f"mk={master_key}", "-f", str(script), dbname],
        capture_output=True, text=True, check=True).stdout
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
    latency = float(re.search(r"latency average = ([\d.]+) ms", out).group(1))
    return tps, latency


def crypt_seconds(dsn: str) -> tuple[int, float]:
    with psycopg.connect(dsn) as conn:
        cost = conn.execute("select bcrypt_cost from private.auth_settings").fetchone()[0]
        conn.execute("select public.crypt('warm', public.gen_salt('bf', %s))", [cost])
        n = 5
        started = time.perf_counter()
        conn.execute("select count(public.crypt('x' || g, public.gen_salt('bf', %s)))"
                     " from generate_series(1, %s) g", [cost, n])
        return cost, (time.perf_counter() - started) / n


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="strongroom-bench-"))
    os.chmod(home, 0o755)
    server = EmbeddedServer(home=home / "pg", port=free_port(), bindir=default_bindir(),
                            run_as=os.environ.get("STRONGROOM_PG_USER", "strongroom"), database="bench")
    secrets = {"STRONGROOM_MASTER_KEY": secret(), "STRONGROOM_JWT_SECRET": secret(), "STRONGROOM_PEPPER": secret()}
    uvicorn = None
    try:
        server.start()
        admin_dsn = server.dsn("bench")
        migrate(admin_dsn, master_key=secrets["STRONGROOM_MASTER_KEY"], say=lambda _: None)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")} | secrets | {
            "DATABASE_URL": admin_dsn,
            "STRONGROOM_API_DATABASE_URL": server.dsn("bench", user="strongroom_authenticator"),
            "STRONGROOM_HOME": str(home), "STRONGROOM_POOL_MIN_SIZE": str(CONCURRENCY),
            "STRONGROOM_POOL_MAX_SIZE": str(CONCURRENCY), "STRONGROOM_LOGIN_RATE_PER_MINUTE": "100000000"}
        uvicorn = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.http.app:app", "--port", str(port), "--no-access-log",
             "--log-level", "warning"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                httpx.get(f"{base}/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        login_connections = max(2, (os.cpu_count() or 1) * 2)
        # One account per login connection: a login locks its user's row (exact failure counting).
        names = ["bench", *(f"loader{i}" for i in range(login_connections))]
        for name in names:
            assert httpx.post(f"{base}/register", json={"username": name, "password": PASSWORD}).status_code == 201
        token = httpx.post(f"{base}/login", json={"username": "bench", "password": PASSWORD}).json()["access_token"]
        with psycopg.connect(admin_dsn) as conn:
            user_id = conn.execute("select id from public.users where username = 'bench'").fetchone()[0]
        work = home / "work"
        work.mkdir()
        json_h = {"Content-Type": "application/json"}

        print(f"Strongroom API benchmark: {SECONDS}s per phase, {CONCURRENCY} connections, {os.cpu_count()} cores")
        empty, e50, e99 = load(f"{base}/health", "GET", [], {}, SECONDS, CONCURRENCY, work)
        print(f"  GET /health (empty route)      {empty:8.0f} req/s   p50 {e50:6.2f} ms   p99 {e99:6.2f} ms")
        orders, o50, o99 = load(f"{base}/orders", "POST", ['{"description":"bench order"}'],
                                json_h | {"Authorization": f"Bearer {token}"}, SECONDS, CONCURRENCY, work)
        print(f"  POST /orders (API)             {orders:8.0f} req/s   p50 {o50:6.2f} ms   p99 {o99:6.2f} ms")
        tps, latency = pgbench(server, "bench", user_id, secrets["STRONGROOM_MASTER_KEY"], SECONDS, CONCURRENCY, work)
        print(f"  same SQL through pgbench       {tps:8.0f} tx/s    mean {latency:6.2f} ms")
        bodies = [f'{{"username":"{name}","password":"{PASSWORD}"}}' for name in names[1:]]
        logins, l50, l99 = load(f"{base}/login", "POST", bodies, json_h, SECONDS, login_connections, work)
        cost, crypt = crypt_seconds(admin_dsn)
        limit = (os.cpu_count() or 1) / crypt
        print(f"  POST /login                    {logins:8.1f} req/s   p50 {l50:6.0f} ms   p99 {l99:6.0f} ms")
        print(f"  crypt() at cost {cost}: {crypt * 1000:.0f} ms  ->  limit {limit:.1f} logins/s"
              f" on {os.cpu_count()} cores")
        print("Ratios:")
        print(f"  POST /orders / pgbench         {orders / tps:6.2f}   (design note: 0.2-0.3 measured before)")
        print(f"  POST /orders / empty route     {orders / empty:6.2f}")
        print(f"  logins / (cores / crypt time)  {logins / limit:6.2f}   (goal >= 0.9)")
    finally:
        if uvicorn:
            uvicorn.terminate()
            uvicorn.wait(15)
        server.remove()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
