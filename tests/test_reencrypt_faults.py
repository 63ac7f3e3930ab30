"""Re-encryption stops within a batch when its client or its server dies, and resuming finishes the job.

Against an embedded server of its own (the test kills it), driven through `strongroom keys reencrypt` as a
DBA would: kill -9 of the command stops the server-side work; kill -9 of the postmaster leaves no backend
re-encrypting on, so `strongroom db start` works again; either way every row still decrypts and a second
run moves the rest. The code under test: api/reencryption.py and api.reencrypt_batch (sql/53_api_keys.sql).
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from api.settings import ROOT
from api.testing.plugin import free_port

pytestmark = pytest.mark.slow

# Enough rows that re-encrypting them takes several seconds here, in batches small enough to be many.
ROWS = 40_000
BATCH = 400


@dataclass
class Server:
    home: Path
    env: dict[str, str]
    master_key: str

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "api.cli", *args], capture_output=True, text=True,
                              env=self.env, cwd=ROOT, timeout=300)

    def reencrypt(self) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "api.cli", "keys", "reencrypt", "--batch-size", str(BATCH)],
                                env=self.env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(self.cli("db", "url").stdout.strip(), autocommit=True)

    def datadir(self) -> Path:
        with self.connect() as conn:
            return Path(str(conn.execute("show data_directory").fetchone()[0]))  # type: ignore[index]

    def postmaster(self) -> int:
        return int((self.datadir() / "postmaster.pid").read_text().splitlines()[0])


def secret() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    # /tmp itself, not pytest's 0700 base directory: the server user must traverse to its data.
    home = Path("/tmp") / f"strongroom-reencrypt-{os.getpid()}-{free_port()}"
    master = secret()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(STRONGROOM_HOME=str(home), STRONGROOM_PG_PORT=str(free_port()), STRONGROOM_MASTER_KEY=master,
               STRONGROOM_JWT_SECRET=secret(), STRONGROOM_PEPPER=secret())
    server = Server(home, env, master)
    try:
        for step in (("db", "start"), ("db", "migrate")):
            done = server.cli(*step)
            assert done.returncode == 0, done.stderr
        with server.connect() as conn, conn.transaction():
            # Bulk rows without their audit rows (replica mode skips triggers): only the ciphertexts matter.
            conn.execute("set local session_replication_role = replica")
            conn.execute("select set_config('strongroom.master_key', %s, true)", [master])
            user = conn.execute("insert into users (username, hashed_password) values ('bulk', 'x') returning id"
                                ).fetchone()[0]  # type: ignore[index]
            conn.execute(
                "insert into entries (id, user_id, title, content_enc, content_key_id)"
                " select g, %s, 't', private.encrypt('note ' || g, k.id, private.place('entries', 'content', %s, g)),"
                "        k.id"
                "   from generate_series(1, %s) g, aes_keys k where k.state = 'active'",
                [user, user, ROWS])
            conn.execute("select setval('entries_id_seq', %s)", [ROWS])
        yield server
    finally:
        server.cli("db", "stop")
        shutil.rmtree(home, ignore_errors=True)


def rows_on_old_keys(server: Server) -> int:
    with server.connect() as conn:
        row = conn.execute("select count(*) from entries e join aes_keys k on k.id = e.content_key_id"
                           " where k.state <> 'active'").fetchone()
    return int(row[0]) if row else -1


def readable_rows(server: Server) -> int:
    """Rows whose content decrypts, in its place, to what was written (as the superuser, who bypasses RLS)."""
    with server.connect() as conn, conn.transaction():
        conn.execute("select set_config('strongroom.master_key', %s, true)", [server.master_key])
        row = conn.execute(
            "select count(*) from entries e where private.decrypt(e.content_enc, e.content_key_id,"
            " private.place('entries', 'content', e.user_id, e.id)) = 'note ' || e.id").fetchone()
    return int(row[0]) if row else -1


def rotate_and_start(server: Server) -> subprocess.Popen[str]:
    rotated = server.cli("keys", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    with server.connect() as conn:
        first = conn.execute("select coalesce(max(id), 0) from key_logs").fetchone()[0]  # type: ignore[index]
        job = server.reencrypt()
        for _ in range(3000):  # until two batches have committed (bounded)
            batches = conn.execute("select count(*) from key_logs where id > %s and action = 'reencrypt_batch'",
                                   [first]).fetchone()[0]  # type: ignore[index]
            if batches >= 2 or job.poll() is not None:
                break
            time.sleep(0.01)
    assert job.poll() is None, job.communicate()
    return job


def reencrypting_backends(server: Server) -> int:
    with server.connect() as conn:
        row = conn.execute("select count(*) from pg_stat_activity where query like '%%reencrypt%%'"
                           " and pid <> pg_backend_pid()").fetchone()
    return int(row[0]) if row else -1


def alive(pid: int) -> bool:
    """The process exists, a zombie included: PostgreSQL takes the pid of an unreaped postmaster for a live
    one and refuses to start (here the init process reaps orphans only every second or two)."""
    return Path(f"/proc/{pid}").exists()


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_killing_the_reencrypt_command_stops_the_server_side_work_and_a_second_run_finishes(server):
    job = rotate_and_start(server)
    job.send_signal(signal.SIGKILL)
    job.wait()
    for _ in range(3000):  # the backend notices its client is gone (bounded wait)
        if reencrypting_backends(server) == 0:
            break
        time.sleep(0.01)

    assert reencrypting_backends(server) == 0
    left = rows_on_old_keys(server)
    assert 0 < left < ROWS  # stopped part-way: it did not go on to the end without its client
    assert readable_rows(server) == ROWS
    resumed = server.cli("keys", "reencrypt", "--batch-size", str(BATCH))
    assert resumed.returncode == 0, resumed.stderr
    assert f"{left} rows moved, 0 left" in resumed.stdout
    assert rows_on_old_keys(server) == 0 and readable_rows(server) == ROWS


def test_a_postmaster_killed_mid_reencrypt_starts_again_and_resuming_leaves_every_row_readable(server):
    job = rotate_and_start(server)
    datadir = server.datadir()
    postmaster = server.postmaster()
    backends = [postmaster, *children(postmaster)]
    os.kill(postmaster, signal.SIGKILL)
    _, err = job.communicate(timeout=300)
    for _ in range(3000):  # the postmaster is gone and every orphaned backend exits (bounded wait)
        if not any(alive(pid) for pid in backends):
            break
        time.sleep(0.01)

    assert job.returncode != 0 and "strongroom:" in err  # the command says it lost its server
    assert [pid for pid in backends if alive(pid)] == []
    started = server.cli("db", "start")
    log = datadir / "startup.log"
    assert started.returncode == 0, started.stderr + (log.read_text()[-3000:] if log.exists() else "")
    left = rows_on_old_keys(server)
    assert 0 < left < ROWS  # the orphaned backend did not go on re-encrypting to the end
    assert readable_rows(server) == ROWS
    resumed = server.cli("keys", "reencrypt", "--batch-size", str(BATCH))
    assert resumed.returncode == 0, resumed.stderr
    assert rows_on_old_keys(server) == 0 and readable_rows(server) == ROWS
