"""A whole Strongroom instance from Python: what `make run` does, in a folder of the caller's choice.

    from api.instance import Instance

    with Instance("demo") as strongroom:          # secrets, embedded PostgreSQL, migrate, serve, first admin
        api = strongroom.admin_client()          # an ApiClient logged in as that administrator
        api.create_order("20 boxes of A4 paper")
        strongroom.sql("select * from audit.verify()").to_frame()
    # everything is stopped here: the API, then PostgreSQL

In a notebook, where a `with` block cannot span cells, call `start()` in one cell and `stop()` in the last;
the instance also stops when the interpreter exits (a kernel shut down or restarted). Each step is the very
function the `strongroom` command runs (`api/cli/commands/`), and the API is `strongroom serve` in a child
process, so an instance behaves exactly as one started from a terminal.

The folder holds what `STRONGROOM_HOME` holds (`secrets.env`; the cluster too, unless run as root: then it
lives under `/var/lib/strongroom`, as the start-up message says), `api.log` (the API's output) and, with
`tls=True`, `tls/` (a self-signed pair whose fingerprint the instance's clients pin). The embedded server's
port and the API's port are free ones unless given. A guard process stops PostgreSQL when the process that
started it is gone, even killed with its process group (no exit handler runs then); a server still found
running on the folder's cluster is reused by the next `start()`.
"""

from __future__ import annotations

import atexit
import ctypes
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import psycopg
from dotenv import dotenv_values
from psycopg.rows import dict_row
from pydantic import SecretStr

from api import tls
from api.cli.commands.admin import create_administrator
from api.cli.commands.db import migrate_database, start_database
from api.cli.commands.secrets import write_secrets
from api.client import ApiClient, ApiError, Rows, Unreachable
from api.postgres.embedded import embedded_server
from api.postgres.target import Target, resolve
from api.settings import SECRET_NAMES, Settings

STARTUP_SECONDS = 60.0
"""How long `start()` waits for the API to answer `/ready` before it gives up (a guard, not a measure)."""
AUDITOR = "strongroom_auditor"


class InstanceError(RuntimeError):
    """The instance could not come up; the message says which step and why."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _die_with_parent() -> None:
    """In the API's child process (Linux): a SIGTERM when the parent dies, even by SIGKILL."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Instance:
    """The database and the API of one Strongroom, living in `folder`.

    `admin_password` defaults to a random one, kept in this object only (never written anywhere); give your
    own to log in later from another program. `tls=True` serves HTTPS with a self-signed pair made in the
    folder's `tls/` (the one `strongroom tls self-signed` makes), which `client()` pins by its fingerprint.
    `settings` are extra `Settings` fields for this instance
    (e.g. `{"login_rate_per_minute": 100}`), passed to the API's process as its environment.
    """

    def __init__(self, folder: str | os.PathLike[str], *, pg_port: int | None = None, api_port: int | None = None,
                 admin_username: str = "admin", admin_password: str | None = None, tls: bool = False,
                 settings: Mapping[str, Any] | None = None, say: Any = print) -> None:
        self.folder = Path(folder).expanduser().absolute()
        self.admin_username = admin_username
        self.admin_password = admin_password or secrets.token_urlsafe(18)
        self.say = say
        self._pg_port = pg_port
        self._api_port = api_port
        self._extra = dict(settings or {})
        self.tls = tls
        self.fingerprint: str | None = None
        """With `tls=True`: the SHA-256 fingerprint of the instance's self-signed certificate, which its
        clients pin."""
        self._api: subprocess.Popen[bytes] | None = None
        self._guard: subprocess.Popen[bytes] | None = None
        self._settings: Settings | None = None

    def __repr__(self) -> str:  # never the password
        state = f"serving {self.url}" if self.running else "stopped"
        return f"<Instance {self.folder} {state}>"

    # -- life cycle ----------------------------------------------------------------------------------

    def start(self) -> Self:
        """Secrets, PostgreSQL, migrate, the API in the background, the first administrator; idempotent."""
        if self.running:
            return self
        self.folder.mkdir(parents=True, exist_ok=True)
        settings = self._make_settings(load_secrets=False)
        fresh = not settings.secrets_file.exists()
        server = embedded_server(settings)
        if fresh and server is not None and (server.datadir / "PG_VERSION").exists():
            raise InstanceError(f"{server.datadir} holds a cluster made with other secrets, but "
                                f"{settings.secrets_file} is gone: restore that file, or remove "
                                f"{server.datadir.parent} to start afresh")
        self.say(write_secrets(settings, environ={}))
        if self.tls:
            self._certificate()
        settings = self._settings = self._make_settings(load_secrets=True)
        atexit.register(self.stop)
        try:
            self._watch(settings)
            self.say(start_database(settings))
            done = migrate_database(settings, say=lambda _line: None)
            self.say("the database is up to date" if done.nothing else
                     f"applied {len(done.migrations)} migration(s) and {len(done.code)} code file(s)")
            self._first_admin(settings)
            self._serve(settings)
        except BaseException:
            self.stop()
            raise
        self.say(f"Strongroom API on {self.url} — Swagger UI at {self.url}/docs")
        return self

    def stop(self) -> None:
        """Stop the API (letting requests in flight finish), then PostgreSQL. Safe to call twice."""
        atexit.unregister(self.stop)
        if self._api is not None:
            self._api.terminate()
            try:
                self._api.wait(35)
            except subprocess.TimeoutExpired:
                self._api.kill()
                self._api.wait(5)
            self._api = None
        if self._settings is not None:
            server = embedded_server(self._settings)
            if server is not None:
                self.say(server.stop())
            self._settings = None
        if self._guard is not None:  # its stdin closes: it finds PostgreSQL stopped and exits
            self._guard.stdin.close()  # type: ignore[union-attr]
            self._guard.wait(60)
            self._guard = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()

    # -- what a caller uses --------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._api is not None and self._api.poll() is None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            raise InstanceError("the instance is not started: call start()")
        return self._settings

    @property
    def url(self) -> str:
        return self.settings.client_api_url

    @property
    def target(self) -> Target:
        """The database server: `admin_dsn` for psql and DBA tools."""
        return resolve(self.settings)

    def client(self, **options: Any) -> ApiClient:
        """A new ApiClient for this instance's API, not logged in."""
        return ApiClient(self.url, user_agent="strongroom-python", fingerprint=self.fingerprint, **options)

    def admin_client(self, **options: Any) -> ApiClient:
        """A new ApiClient logged in as the first administrator."""
        api = self.client(**options)
        api.login(self.admin_username, self.admin_password)
        return api

    @contextmanager
    def connect(self, role: str | None = AUDITOR) -> Iterator[psycopg.Connection[dict[str, Any]]]:
        """A DBA's connection (the administrative DSN) in one transaction, switched to `role` (the auditor
        by default: reads the logs and audit views, decrypts nothing); `role=None` stays the superuser."""
        with psycopg.connect(self.target.admin_dsn, row_factory=dict_row) as conn, conn.transaction():
            if role is not None:
                conn.execute(psycopg.sql.SQL("set local role {}").format(psycopg.sql.Identifier(role)))
            yield conn

    def sql(self, query: str, params: Mapping[str, Any] | tuple[Any, ...] = (), *,
            role: str | None = AUDITOR) -> Rows:
        """Run one query as `role` and return its rows (`.to_frame()` for a DataFrame)."""
        with self.connect(role) as conn:
            return Rows(conn.execute(query, params).fetchall())  # type: ignore[arg-type]

    # -- the steps -----------------------------------------------------------------------------------

    def _make_settings(self, *, load_secrets: bool) -> Settings:
        values: dict[str, Any] = dict(self._extra)
        values.update(home=self.folder, database_url=None, api_database_url=None, api_host="127.0.0.1")
        values["api_port"] = self._api_port = self._api_port or free_port()
        if self.tls:
            values.update(tls_cert_file=self.folder / "tls" / "cert.pem", tls_key_file=self.folder / "tls" / "key.pem")
        if load_secrets:  # from this instance's file only, never from the caller's environment
            stored = dotenv_values(self.folder / "secrets.env")
            for name in SECRET_NAMES:
                values[name.removeprefix("STRONGROOM_").lower()] = SecretStr(str(stored[name]))
        settings = Settings(**values, pg_port=self._pg_port or 1)
        if self._pg_port is None:
            server = embedded_server(settings)
            assert server is not None
            self._pg_port = self._running_pg_port(server.datadir) or free_port()
            settings = Settings(**values, pg_port=self._pg_port)
        return settings

    @staticmethod
    def _running_pg_port(datadir: Path) -> int | None:
        """The port of a server already running on this folder's cluster (a kernel killed before its exit
        handler ran), read from its postmaster.pid; None when there is none."""
        try:
            lines = (datadir / "postmaster.pid").read_text().splitlines()
            os.kill(int(lines[0]), 0)
            return int(lines[3])
        except (OSError, ValueError, IndexError):
            return None

    def _certificate(self) -> None:
        """The folder's self-signed pair, made the first time (api/tls.py, as `strongroom tls self-signed`)."""
        cert = self.folder / "tls" / "cert.pem"
        if cert.exists():
            self.fingerprint = tls.fingerprint(cert.read_text())
            return
        _cert, _key, self.fingerprint = tls.write_pair(cert.parent, ["localhost"])
        self.say(f"made a self-signed certificate in {cert.parent}; SHA-256 fingerprint {self.fingerprint}")

    def _first_admin(self, settings: Settings) -> None:
        with psycopg.connect(resolve(settings).admin_dsn) as conn:
            exists = conn.execute("select 1 from public.users where lower(username) = lower(%s)",
                                  [self.admin_username]).fetchone()
        if exists:
            self.say(f"administrator {self.admin_username} exists")
            return
        user_id = create_administrator(settings, self.admin_username, self.admin_password)
        self.say(f"created administrator {self.admin_username} (id {user_id})")

    def _environment(self, settings: Settings) -> dict[str, str]:
        """The API process's environment: the caller's, without any Strongroom setting of its own, plus this
        instance's settings (the secrets it reads from the folder's secrets.env, as `strongroom serve` does)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_") and k != "DATABASE_URL"}
        for name in settings.model_fields_set:
            value = getattr(settings, name)
            if value is None or isinstance(value, SecretStr):
                continue
            env[f"STRONGROOM_{name.upper()}"] = json.dumps(value) if isinstance(value, list | dict) else str(value)
        return env

    def _watch(self, settings: Settings) -> None:
        """Start the guard: a process of its own session that waits on a pipe from this one and, when the pipe
        closes (this process ended, however: even killed with its whole process group, as a kernel manager
        does), stops the embedded PostgreSQL with the same settings. The exit handler cannot do that when
        this process is killed, and the server, started by pg_ctl, would otherwise run on."""
        self._guard = subprocess.Popen(
            [sys.executable, "-m", "api.instance", "--guard"], env=self._environment(settings),
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def _serve(self, settings: Settings) -> None:
        log = (self.folder / "api.log").open("ab")
        # The pre-exec hook only sets the parent-death signal (safe: no locks, no allocation to speak of).
        self._api = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve"], env=self._environment(settings), stdin=subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        log.close()
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if self._api.poll() is not None:
                tail = (self.folder / "api.log").read_text(errors="replace").strip().splitlines()[-3:]
                raise InstanceError(f"the API stopped at start-up: {' / '.join(tail)}")
            try:
                with self.client(timeout=2, retries=0) as probe:
                    probe.ready()
                return
            except (Unreachable, ApiError):
                pass
            if time.monotonic() > deadline:
                raise InstanceError(f"the API did not become ready in {STARTUP_SECONDS:.0f} s; see "
                                    f"{self.folder / 'api.log'}")
            time.sleep(0.1)


def _guard() -> None:
    """`python -m api.instance --guard`: wait until stdin closes, then stop the embedded PostgreSQL that the
    environment's settings name (see Instance._watch)."""
    from api.settings import get_settings

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C meant for the notebook's terminal is not for us
    sys.stdin.buffer.read()
    server = embedded_server(get_settings())
    if server is not None:
        server.stop()


if __name__ == "__main__" and sys.argv[1:] == ["--guard"]:
    _guard()
