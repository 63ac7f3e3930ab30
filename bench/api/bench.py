"""bench/api: what the API costs on top of the SQL it calls, measured against limits in the same run.

The API is served the way `make run` serves it (`strongroom serve`, one worker per core). Each phase loads it
with wrk (Debian package `wrk`; a small Python load generator otherwise) at `--concurrency` connections:

    1. GET /health (an empty route, every security header) against a bare FastAPI app with one route, served
       by uvicorn with as many workers and the same options (no access log, no server header, no proxy
       headers: `serve` reads X-Forwarded-* only from configured proxies, with its own middleware): goal >= 0.9.
       Beside it, the same bare app served on `serve`'s own HTTP protocol (api/http/serving.py), which writes
       a response in one piece: how much of the ratio is that protocol's.
    2. POST /orders (plain and sensitive), GET /orders (a page of 50, one in five encrypted) and GET /me,
       each against pgbench running exactly the statement the API sends for it (request.<name> with the
       request's context and the arguments, api/http/calls.py, prepared, in autocommit) at the same
       concurrency: goal >= 0.5. Beside each, the same statement run by a bare FastAPI app with psycopg's
       pool and nothing else (bench/api/bare.py), on `serve`'s protocol: the ceiling of any API on FastAPI and
       psycopg served as ours is.
    3. POST /login: logins/s against cores / crypt() time at the configured bcrypt cost: goal >= 0.9.

Interleaved rounds (`--rounds`), medians. It starts its own embedded PostgreSQL and API in a temporary
directory with throwaway secrets. The load generator and pgbench run on the same cores as what they measure,
so both sides of each ratio pay for their load generator.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
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
from pydantic import SecretStr  # noqa: E402

from api.http.calls import Db, RequestInfo, request_sql  # noqa: E402
from api.http.security import Caller, Tokens  # noqa: E402
from api.postgres.embedded import EmbeddedServer, default_bindir  # noqa: E402
from api.postgres.migrate import migrate  # noqa: E402
from api.settings import Settings  # noqa: E402
from api.testing.plugin import free_port  # noqa: E402

PASSWORD = "a throwaway passphrase for load"  # a throwaway account in a throwaway cluster
BARE = ROOT / "bench" / "api" / "bare.py"


def secret() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def wrk(url: str, script: str, seconds: int, connections: int, workdir: Path) -> float:
    lua = workdir / "bench.lua"
    lua.write_text(script + """
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d\\n", summary.requests, summary.duration,
           summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write
           + summary.errors.timeout))
end
""")
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", str(lua), url],
                         capture_output=True, text=True, check=True).stdout
    found = re.search(r"RESULT (\d+) (\d+) (\d+)", out)
    assert found, out
    requests, micros, errors = map(int, found.groups())
    if errors:
        print(f"    ({errors} non-2xx or failed requests on {url})")
    return requests / (micros / 1e6)


async def _python_load(url: str, method: str, bodies: list[str], headers: dict[str, str], seconds: int,
                       connections: int) -> float:
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker(client: httpx.AsyncClient, n: int) -> None:
        nonlocal done
        body = bodies[n % len(bodies)].encode() if bodies else None
        while time.perf_counter() < deadline:
            await client.request(method, url, content=body, headers=headers)
            done += 1

    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=connections)) as client:
        began = time.perf_counter()
        await asyncio.gather(*(worker(client, n) for n in range(connections)))
        return done / (time.perf_counter() - began)


def load(url: str, method: str, bodies: list[str], headers: dict[str, str], seconds: int, connections: int,
         workdir: Path) -> float:
    """Requests per second, in a loop on `connections` connections, cycling through `bodies`."""
    if shutil.which("wrk"):
        lines = [f'wrk.method = "{method}"']
        lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
        if bodies:
            lines.append("bodies = {" + ", ".join(f"[[{b}]]" for b in bodies) + "}")
            lines.append("n = 0\nrequest = function()\n  n = n + 1\n"
                         "  return wrk.format(nil, nil, nil, bodies[(n % #bodies) + 1])\nend")
        return wrk(url, "\n".join(lines), seconds, connections, workdir)
    return asyncio.run(_python_load(url, method, bodies, headers, seconds, connections))


def api_statement(settings: Settings, caller: Caller, function: str, args: list[object], read_only: bool,
                  crypto: bool) -> tuple[str, list[object]]:
    """The statement the API sends for one call (api/http/calls.py), and its parameters."""
    db = Db(None, settings, caller, RequestInfo(request_id="bench-request-id", client_addr="127.0.0.1"))  # type: ignore[arg-type]
    return request_sql(function, len(args)), [*db.request_params(read_only, crypto), *args]


def pgbench_script(statement: str, values: list[object]) -> tuple[str, list[str]]:
    """A statement and its parameters as a pgbench script with its variables (-D)."""
    defines: list[str] = []
    n = 0

    def variable(_: re.Match[str]) -> str:
        # pgbench variables are non-empty text: a null or empty argument is written into the script instead.
        nonlocal n
        value = values[n]
        n += 1
        if value is None or value == "":
            return "null" if value is None else "''"
        defines.extend(["-D", f"p{n}={str(value).lower() if isinstance(value, bool) else value}"])
        return f":p{n}"

    return re.sub(r"%s", variable, statement + ";\n"), defines


def pgbench(server: EmbeddedServer, dbname: str, script: str, defines: list[str], seconds: int, clients: int,
            workdir: Path, name: str) -> float:
    path = workdir / f"{name}.sql"
    path.write_text(script)
    path.chmod(0o644)
    out = subprocess.run(
        [str(server.bindir / "pgbench"), "-h", str(server.sockdir), "-p", str(server.port),
         "-U", "strongroom_authenticator", "-n", "-M", "prepared", "-c", str(clients), "-j", "2",
         "-T", str(seconds), *defines, "-f", str(path), dbname],
        capture_output=True, text=True)
    found = re.search(r"tps = ([\d.]+)", out.stdout)
    if out.returncode or not found:
        raise RuntimeError(f"pgbench failed on {name}: {out.stderr.strip()[-500:]}")
    return float(found.group(1))


def crypt_seconds(dsn: str) -> tuple[int, float]:
    with psycopg.connect(dsn) as conn:
        cost = conn.execute("select bcrypt_cost from private.auth_settings").fetchone()[0]  # type: ignore[index]
        conn.execute("select public.crypt('warm', public.gen_salt('bf', %s))", [cost])
        n = 5
        started = time.perf_counter()
        conn.execute("select count(public.crypt('x' || g, public.gen_salt('bf', %s)))"
                     " from generate_series(1, %s) g", [cost, n])
        return cost, (time.perf_counter() - started) / n


def wait_for(url: str, process: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        if process.poll() is not None:
            raise RuntimeError(f"the server for {url} exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("BENCH_SECONDS", "6")),
                        help="duration of each phase (default 6, or BENCH_SECONDS)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are printed")
    parser.add_argument("--concurrency", type=int, default=int(os.environ.get("BENCH_CONCURRENCY", "8")))
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="API worker processes (default: as `strongroom serve`, one per core)")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    home = Path(tempfile.mkdtemp(prefix="strongroom-bench-"))
    os.chmod(home, 0o755)
    server = EmbeddedServer(home=home / "pg", port=free_port(), bindir=default_bindir(),
                            run_as=os.environ.get("STRONGROOM_PG_USER", "strongroom"), database="bench")
    secrets = {"STRONGROOM_MASTER_KEY": secret(), "STRONGROOM_JWT_SECRET": secret(), "STRONGROOM_PEPPER": secret()}
    processes: list[subprocess.Popen[bytes]] = []
    try:
        server.start()
        admin_dsn = server.dsn("bench")
        migrate(admin_dsn, master_key=secrets["STRONGROOM_MASTER_KEY"], say=lambda _: None)
        port, bare_port = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")} | secrets | {
            "DATABASE_URL": admin_dsn,
            "STRONGROOM_API_DATABASE_URL": server.dsn("bench", user="strongroom_authenticator"),
            "STRONGROOM_HOME": str(home), "STRONGROOM_LOGIN_RATE_PER_MINUTE": "100000000"}
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        api_log = home / "api.log"
        with api_log.open("wb") as log:
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--workers", str(args.workers)],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "bench.api.bare:app", "--port", str(bare_port), "--workers",
             str(args.workers), "--no-access-log", "--log-level", "warning", "--no-server-header",
             "--no-proxy-headers"],
            cwd=ROOT, env=env, **quiet))  # type: ignore[call-overload]
        base, bare = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{bare_port}"
        try:
            wait_for(f"{base}/health", processes[0])
        except RuntimeError:
            print(api_log.read_text()[-2000:])
            raise
        wait_for(f"{bare}/", processes[1])
        login_connections = max(2, cores * 2)
        # One account per login connection: a login locks its user's row (exact failure counting).
        names = ["bench", *(f"loader{i}" for i in range(login_connections))]
        for name in names:
            assert httpx.post(f"{base}/register", json={"username": name, "password": PASSWORD}).status_code == 201
        token = httpx.post(f"{base}/login", json={"username": "bench", "password": PASSWORD}).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        for i in range(60):  # the page GET /orders reads: 60 orders, one in five sensitive
            httpx.post(f"{base}/orders", json={"description": f"order {i}", "sensitive": i % 5 == 0}, headers=auth)
        settings = Settings(_env_file=None, master_key=SecretStr(secrets["STRONGROOM_MASTER_KEY"]),  # type: ignore[call-arg]
                            jwt_secret=SecretStr(secrets["STRONGROOM_JWT_SECRET"]))
        caller = Tokens(settings).verify_access(token)  # the caller the API would set the context for
        work = home / "work"
        work.mkdir()
        work.chmod(0o755)
        json_h = {"Content-Type": "application/json"}

        # name: (method, path, body, SQL function, its arguments, read_only, crypto)
        routes = {
            "POST /orders": ("POST", "/orders", '{"description":"bench order"}', "api.create_order",
                             ["bench order", False], False, True),
            "POST /orders sensitive": ("POST", "/orders", '{"description":"bench order","sensitive":true}',
                                       "api.create_order", ["bench order", True], False, True),
            "GET /orders": ("GET", "/orders", None, "api.list_orders", [None, None, 50], True, True),
            "GET /me": ("GET", "/me", None, "api.me", [], True, False),
        }
        statements = {name: api_statement(settings, caller, function, fargs, read_only, crypto)
                      for name, (_, _, _, function, fargs, read_only, crypto) in routes.items()}
        scripts = {name: pgbench_script(*statement) for name, statement in statements.items()}
        # The same statements from the bare app: the least a FastAPI app running them costs.
        bare_sql_port = free_port()
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "bench.api.bare:app", "--port", str(bare_sql_port), "--workers",
             str(args.workers), "--no-access-log", "--log-level", "warning", "--no-server-header",
             "--no-proxy-headers", "--http", "api.http.serving:Protocol"],
            cwd=ROOT, env=env | {"BENCH_DATABASE_URL": env["STRONGROOM_API_DATABASE_URL"], "BENCH_STATEMENTS":
                                 json.dumps({str(i): st for i, st in enumerate(statements.values())}, default=str)},
            **quiet))  # type: ignore[call-overload]
        bare_sql = f"http://127.0.0.1:{bare_sql_port}"
        wait_for(f"{bare_sql}/", processes[-1])

        print(f"Strongroom API benchmark: {args.seconds}s per phase, {args.rounds} rounds, {args.concurrency} "
              f"connections, {args.workers} API workers, {cores} cores; load average before: {load_average()}")
        samples: dict[str, list[float]] = {}
        s, c = args.seconds, args.concurrency
        for _ in range(args.rounds):
            samples.setdefault("empty", []).append(load(f"{base}/health", "GET", [], {}, s, c, work))
            samples.setdefault("bare", []).append(load(f"{bare}/", "GET", [], {}, s, c, work))
            samples.setdefault("bare joined", []).append(load(f"{bare_sql}/", "GET", [], {}, s, c, work))
            for i, (name, (method, path, body, *_rest)) in enumerate(routes.items()):
                headers = auth | (json_h if body else {})
                samples.setdefault(name, []).append(load(f"{base}{path}", method, [body] if body else [], headers,
                                                         s, c, work))
                samples.setdefault(f"bare {name}", []).append(
                    load(f"{bare_sql}/sql/{i}", method, [body] if body else [], headers, s, c, work))
                script, defines = scripts[name]
                samples.setdefault(f"sql {name}", []).append(
                    pgbench(server, "bench", script, defines, s, c, work, f"route{i}"))
        bodies = [f'{{"username":"{name}","password":"{PASSWORD}"}}' for name in names[1:]]
        logins = load(f"{base}/login", "POST", bodies, json_h, s, login_connections, work)
        cost, crypt = crypt_seconds(admin_dsn)
        limit = cores / crypt
        med = {k: statistics.median(v) for k, v in samples.items()}

        print(f"  {'measure':<30} {'req/s':>8} {'limit':>8}  {'ratio':>5}  goal      "
              f"{'bare app*':>14}  {'ratio':>9}")
        print(f"  {'GET /health vs bare FastAPI':<30} {med['empty']:>8.0f} {med['bare']:>8.0f}  "
              f"{med['empty'] / med['bare']:>5.2f}  >= 0.9    {med['bare joined']:>14.0f}  "
              f"{med['empty'] / med['bare joined']:>9.2f} (the API's)")
        for name in routes:
            api, sql, bare_api = med[name], med[f"sql {name}"], med[f"bare {name}"]
            print(f"  {name + ' vs pgbench':<30} {api:>8.0f} {sql:>8.0f}  {api / sql:>5.2f}  >= 0.5    "
                  f"{bare_api:>14.0f}  {bare_api / sql:>9.2f}")
        print("  (bare app*: the bare FastAPI app on serve's HTTP protocol; beside the routes, running the same "
              "statement with psycopg, nothing else, and its ratio to pgbench: no FastAPI and psycopg API served "
              "so can pass it)")
        print(f"  {'POST /login vs cores/crypt()':<30} {logins:>8.1f} {limit:>8.1f}  {logins / limit:>5.2f}  >= 0.9"
              f"   (crypt() at cost {cost}: {crypt * 1000:.0f} ms)")
        sensitive = med["sql POST /orders sensitive"] / med["sql POST /orders"]
        print(f"  {'pgbench sensitive vs plain':<30} {med['sql POST /orders sensitive']:>8.0f} "
              f"{med['sql POST /orders']:>8.0f}  {sensitive:>5.2f}  >= 0.8")
        print(f"  load average after: {load_average()} (the machine's other work shares these {cores} cores)")
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(45)  # serve lets requests finish for up to 30 s; a killed master orphans its workers
            except subprocess.TimeoutExpired:
                process.kill()
        server.stop()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
