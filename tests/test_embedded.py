"""`strongroom db start|stop|status|restart|url` on the embedded server, as root and as a non-root user,
from a 0700 home, and the clear errors for a stale pid file, a port in use, another major version, a
crashed server whose backend still runs, a failed initdb, and a DATABASE_URL that is unreachable or lacks
pgcrypto."""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import pytest

from api.postgres.embedded import EmbeddedServer, cluster_processes, default_bindir
from api.testing.plugin import free_port

pytestmark = pytest.mark.slow


def strongroom(home: Path, port: int, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    environment.update({"STRONGROOM_HOME": str(home), "STRONGROOM_PG_PORT": str(port)}, **(env or {}))
    return subprocess.run([sys.executable, "-m", "api.cli", *args], capture_output=True, text=True,
                          env=environment, timeout=120)


def server_for(home: Path, port: int = 1) -> EmbeddedServer:
    """The server the command line makes of `home` (where its cluster lives, as root or not)."""
    return EmbeddedServer(home=home, port=port, bindir=default_bindir())


@pytest.fixture
def home():
    # A 0700 folder like `mktemp -d` or /root: as root the server user cannot enter it, and need not.
    path = Path(tempfile.mkdtemp(prefix="strongroom-cli-")) / ".strongroom"
    yield path
    server_for(path).remove()
    shutil.rmtree(path.parent, ignore_errors=True)


def test_start_status_url_restart_stop_through_the_command_line(home):
    port = free_port()

    assert home.parent.stat().st_mode & 0o777 == 0o700
    started = strongroom(home, port, "db", "start")
    assert started.returncode == 0, started.stderr
    assert "started" in started.stdout
    if os.geteuid() == 0:
        cluster = server_for(home).cluster_root
        assert "runs as the unprivileged user" in started.stdout and f"socket in {cluster}" in started.stdout
        assert not str(cluster).startswith(str(home))
        assert home.parent.stat().st_mode & 0o777 == 0o700  # nobody's folder was opened up

    again = strongroom(home, port, "db", "start")
    assert again.returncode == 0 and "already running" in again.stdout

    status = strongroom(home, port, "db", "status")
    assert status.returncode == 0
    assert "running: yes" in status.stdout and f"port: {port}" in status.stdout and "PostgreSQL 18" in status.stdout

    url = strongroom(home, port, "db", "url").stdout.strip()
    with psycopg.connect(url) as conn:
        assert conn.execute("select current_setting('server_version_num')::int").fetchone()[0] >= 180000
        assert conn.execute("show log_parameter_max_length").fetchone()[0] == "0"
        assert conn.execute("show log_parameter_max_length_on_error").fetchone()[0] == "0"
        assert conn.execute("show listen_addresses").fetchone()[0] == "127.0.0.1"

    restarted = strongroom(home, port, "db", "restart")
    assert restarted.returncode == 0 and "stopped" in restarted.stdout and "started" in restarted.stdout

    stopped = strongroom(home, port, "db", "stop")
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    down = strongroom(home, port, "db", "status")
    assert down.returncode != 0 and "running: no" in down.stdout


def test_socket_directory_is_private_and_tcp_needs_the_generated_password(home):
    port = free_port()
    assert strongroom(home, port, "db", "start").returncode == 0

    assert server_for(home).sockdir.stat().st_mode & 0o777 == 0o700
    assert (home / "superuser.password").stat().st_mode & 0o777 == 0o600
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres", password="wrong")
    password = (home / "superuser.password").read_text().strip()
    with psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres", password=password) as conn:
        assert conn.execute("select 1").fetchone() == (1,)


def test_the_server_logs_to_a_file_under_the_data_directory(home):
    port = free_port()
    assert strongroom(home, port, "db", "start").returncode == 0
    url = strongroom(home, port, "db", "url").stdout.strip()
    with psycopg.connect(url) as conn:
        current = conn.execute("select pg_catalog.pg_current_logfile()").fetchone()[0]
    assert current == "log/postgresql.log"
    assert server_for(home).log_file.exists()


def test_a_stale_pid_file_is_explained_and_removed(home):
    port = free_port()
    assert strongroom(home, port, "db", "start").returncode == 0
    assert strongroom(home, port, "db", "stop").returncode == 0
    pidfile = server_for(home).datadir / "postmaster.pid"
    pidfile.write_text("999999\n")  # a pid that does not exist: what a crash leaves behind

    started = strongroom(home, port, "db", "start")

    assert started.returncode == 0, started.stderr
    assert "stale postmaster.pid" in started.stdout


def test_a_port_in_use_gives_a_clear_message(home):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]

        result = strongroom(home, port, "db", "start")

    assert result.returncode == 1
    assert f"port {port}" in result.stderr and "STRONGROOM_PG_PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_cluster_of_another_major_version_gives_a_clear_message(home):
    port = free_port()
    assert strongroom(home, port, "db", "start").returncode == 0
    assert strongroom(home, port, "db", "stop").returncode == 0
    (server_for(home).datadir / "PG_VERSION").write_text("15\n")

    result = strongroom(home, port, "db", "start")

    assert result.returncode == 1
    assert "made by PostgreSQL 15" in result.stderr and "STRONGROOM_HOME" in result.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to another user needs root; as non-root the "
                    "other tests already run the server as that user")
def test_a_non_root_user_can_start_stop_and_query_its_own_cluster(home):
    """Fork, drop to an unprivileged user, and drive the same EmbeddedServer a non-root user would."""
    user = pwd.getpwnam("nobody")
    bindir = EmbeddedServer(home=home, port=1, bindir=default_bindir(), run_as="strongroom")._usable_bindir()
    home.parent.chmod(0o755)
    home.mkdir(mode=0o700)
    os.chown(home, user.pw_uid, user.pw_gid)
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.close(read)
        code = 1
        try:
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            server = EmbeddedServer(home=home, port=free_port(), bindir=bindir)
            message = server.start()
            with psycopg.connect(server.dsn("postgres")) as conn:
                owner = conn.execute("select pg_catalog.pg_get_userbyid(datdba) from pg_database "
                                     "where datname = 'postgres'").fetchone()[0]
            running = server.status().running
            server.stop()
            os.write(write, f"{message}|{owner}|{running}|{server.status().running}".encode())
            code = 0
        except BaseException as error:
            os.write(write, f"error: {error}".encode())
        finally:
            os._exit(code)
    os.close(write)
    _, status = os.waitpid(child, 0)
    report = os.read(read, 4096).decode()
    os.close(read)

    assert os.waitstatus_to_exitcode(status) == 0, report
    message, owner, running, after_stop = report.split("|")
    assert "started" in message and "unprivileged" not in message
    assert (owner, running, after_stop) == ("postgres", "True", "False")
    assert (home / "pgdata").stat().st_uid == user.pw_uid


def test_a_failed_start_prints_the_servers_own_reason(home):
    port = free_port()
    assert strongroom(home, port, "db", "start").returncode == 0
    assert strongroom(home, port, "db", "stop").returncode == 0
    conf = server_for(home).datadir / "postgresql.conf"
    conf.write_text(conf.read_text() + "\nshared_buffers = 'lots'\n")

    result = strongroom(home, port, "db", "start")

    assert result.returncode == 1
    assert 'invalid value for parameter "shared_buffers": "lots"' in result.stderr, result.stderr
    assert "Examine the log output" not in result.stderr and "['" not in result.stderr


def test_a_failed_initdb_prints_initdbs_own_reason(home):
    # A data directory that holds something else: initdb refuses to touch it, and says why.
    datadir = server_for(home).datadir
    datadir.mkdir(parents=True)
    (datadir / "notes.txt").write_text("not a cluster\n")

    result = strongroom(home, free_port(), "db", "start")

    assert result.returncode == 1
    assert "initdb failed: " in result.stderr and "exists but is not empty" in result.stderr, result.stderr
    assert "['" not in result.stderr and (datadir / "notes.txt").exists()


def _kill_postmaster(server: EmbeddedServer) -> None:
    pid = server.pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    while server.pid() is not None:  # the pid file stays; the process is gone once kill(0) fails
        time.sleep(0.05)


def test_start_after_kill_9_of_an_idle_server_works(home):
    port = free_port()
    assert strongroom(home, port, "db", "start").returncode == 0
    server = server_for(home, port)
    idle = psycopg.connect(server.dsn("postgres"), autocommit=True)  # a client that stays connected
    idle.execute("select 1")
    _kill_postmaster(server)

    started = strongroom(home, port, "db", "start")
    idle.close()

    assert started.returncode == 0, started.stderr
    assert "stale postmaster.pid" in started.stdout
    with psycopg.connect(server.dsn("postgres")) as conn:
        assert conn.execute("select 1").fetchone() == (1,)


def test_start_after_a_crash_names_the_backend_still_running_and_how_to_stop_it(home):
    """kill -9 of the postmaster while a backend is busy in one long statement (what a re-encryption
    `CALL` was): that backend does not notice and keeps the old shared memory, so PostgreSQL cannot start."""
    port = free_port()
    assert strongroom(home, port, "db", "start").returncode == 0
    server = server_for(home, port)
    busy = psycopg.connect(server.dsn("postgres"), autocommit=True)
    backend = busy.execute("select pg_backend_pid()").fetchone()[0]
    # A statement that computes without ever waiting, so it never checks whether the postmaster lives.
    worker = threading.Thread(target=lambda: _quietly(busy, "do $$ begin loop perform 1; end loop; end $$"))
    worker.start()
    with psycopg.connect(server.dsn("postgres")) as watcher:
        while not watcher.execute("select 1 from pg_stat_activity where pid = %s and state = 'active'",
                                  [backend]).fetchone():
            time.sleep(0.05)
    try:
        _kill_postmaster(server)

        refused = strongroom(home, port, "db", "start")

        assert refused.returncode == 1
        assert f"pid {backend}" in refused.stderr and f"kill {backend}" in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr
    finally:
        try:
            os.kill(backend, signal.SIGTERM)
        except ProcessLookupError:
            pass
        worker.join(60)
    while any(pid == backend for pid, _ in cluster_processes(server.datadir)):
        time.sleep(0.05)

    started = strongroom(home, port, "db", "start")

    assert started.returncode == 0, started.stderr


def _quietly(conn: psycopg.Connection, statement: str) -> None:
    try:
        conn.execute(statement)
    except psycopg.Error:
        pass
    finally:
        conn.close()


def test_database_url_to_an_unreachable_server_is_a_clear_error(home):
    result = strongroom(home, 1, "db", "status",
                        env={"DATABASE_URL": f"postgresql://nobody@127.0.0.1:{free_port()}/none?connect_timeout=2"})

    assert result.returncode == 1
    assert "cannot reach the PostgreSQL server in DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_database_url_to_a_server_without_pgcrypto_is_a_clear_error(tmp_path):
    """A real server whose installation lacks pgcrypto: a copy of the binaries without its files."""
    tree = default_bindir().parent
    copy = Path("/tmp") / f"strongroom-nocrypto-{os.getpid()}"
    shutil.copytree(tree, copy, symlinks=True, dirs_exist_ok=True)
    for path in (copy / "share" / "extension").glob("pgcrypto*"):
        path.unlink()
    for path in copy.rglob("*"):
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | 0o755 if path.is_dir() else path.stat().st_mode | 0o444)
    copy.chmod(0o755)
    home = Path("/tmp") / f"strongroom-nocrypto-home-{os.getpid()}"
    server = EmbeddedServer(home=home, port=free_port(), bindir=copy / "bin")
    try:
        server.start()
        password = server.tcp_password()
        url = f"postgresql://postgres:{password}@127.0.0.1:{server.port}/strongroom"

        result = strongroom(tmp_path / "unused", 1, "db", "migrate", env={"DATABASE_URL": url})

        assert result.returncode == 1
        assert "no pgcrypto extension available" in result.stderr
        assert password not in result.stderr + result.stdout
    finally:
        server.remove()
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(copy, ignore_errors=True)


def test_stop_is_refused_for_a_server_named_by_database_url(pg, home):
    result = strongroom(home, 1, "db", "stop", env={"DATABASE_URL": pg.dsn()})
    assert result.returncode == 1 and "not Strongroom's to stop" in result.stderr



@pytest.mark.skipif(os.geteuid() != 0, reason="only root keeps clusters outside the home")
def test_root_removes_the_clusters_of_temporary_homes_that_are_gone(home):
    port = free_port()
    assert strongroom(home, port, "db", "start").returncode == 0
    assert strongroom(home, port, "db", "stop").returncode == 0
    abandoned = server_for(home).cluster_root
    kept_home = Path(tempfile.mkdtemp(prefix="strongroom-kept-")) / ".strongroom"
    try:
        assert strongroom(kept_home, free_port(), "db", "start").returncode == 0
        assert strongroom(kept_home, 1, "db", "stop").returncode == 0
        shutil.rmtree(home.parent)  # what a test or a `mktemp -d` trial leaves: the home gone, the cluster not

        started_elsewhere = strongroom(home.parent.with_name(home.parent.name + "-next") / ".strongroom",
                                       free_port(), "db", "start")
        assert started_elsewhere.returncode == 0, started_elsewhere.stderr

        assert not abandoned.exists()
        assert server_for(kept_home).cluster_root.exists()  # its home is still there: kept
    finally:
        server_for(kept_home).remove()
        shutil.rmtree(kept_home.parent, ignore_errors=True)
        nxt = home.parent.with_name(home.parent.name + "-next") / ".strongroom"
        server_for(nxt).remove()
        shutil.rmtree(nxt.parent, ignore_errors=True)


def test_a_socket_path_too_long_names_the_setting_to_shorten(home):
    deep = home.parent / ("d" * 60) / ("e" * 60) / ".strongroom"

    result = strongroom(deep, free_port(), "db", "start", env={"STRONGROOM_PG_ROOT": str(home.parent / ("r" * 110))})

    assert result.returncode == 1
    assert "longer than the 107 bytes" in result.stderr and "STRONGROOM_HOME" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="only root keeps clusters outside the home")
def test_a_cluster_folder_root_cannot_create_names_the_folder_user_and_setting(home):
    result = strongroom(home, free_port(), "db", "start", env={"STRONGROOM_PG_ROOT": "/proc/strongroom"})

    assert result.returncode == 1
    assert "/proc/strongroom" in result.stderr and "'strongroom'" in result.stderr
    assert "STRONGROOM_PG_ROOT" in result.stderr and "Traceback" not in result.stderr
