"""Fixtures of the API tests: the app in-process (TestClient, lifespan included), a real uvicorn, or
`strongroom serve` itself.

Both log in as the authenticator role to this test's fresh clone of the template database.
"""

from __future__ import annotations

import base64
import os
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.http.app import create_app
from api.settings import Settings
from api.testing.plugin import TEST_MASTER_KEY, PgInfo, free_port, stop_process

PASSWORD = "correct horse battery staple"


def _secret() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.fixture(scope="session")
def api_secrets() -> dict[str, str]:
    """The three server secrets for this session; the master key is the one the template was migrated with."""
    return {
        "STRONGROOM_MASTER_KEY": TEST_MASTER_KEY,  # the template's, when STRONGROOM_TEST_MASTER_KEY is set
        "STRONGROOM_JWT_SECRET": _secret(),
        "STRONGROOM_PEPPER": _secret(),
    }


@pytest.fixture
def api_settings(pg: PgInfo, db: psycopg.Connection, api_secrets: dict[str, str], tmp_path: Path) -> Settings:
    dbname = db.info.dbname
    # The first data key, wrapped by this session's master key (what `strongroom db migrate` does).
    with db.transaction():
        db.execute("select set_config('strongroom.master_key', %s, true)", [api_secrets["STRONGROOM_MASTER_KEY"]])
        if db.execute("select to_regprocedure('private.ensure_active_key()') is not null").fetchone() == (True,):
            db.execute("select private.ensure_active_key()")
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        home=tmp_path,
        database_url=pg.dsn(dbname),
        api_database_url=pg.dsn(dbname, user="strongroom_authenticator"),
        master_key=SecretStr(api_secrets["STRONGROOM_MASTER_KEY"]),
        jwt_secret=SecretStr(api_secrets["STRONGROOM_JWT_SECRET"]),
        pepper=SecretStr(api_secrets["STRONGROOM_PEPPER"]),
        pool_min_size=1,
        pool_max_size=4,
        login_rate_per_minute=1000,
    )


@pytest.fixture
def make_client(api_settings: Settings) -> Iterator[Callable[..., TestClient]]:
    """`make_client(**overrides)`: the app in-process with settings changed; closed at teardown."""
    opened: list[TestClient] = []

    def _make(**overrides: Any) -> TestClient:
        client = TestClient(create_app(api_settings.model_copy(update=overrides)), raise_server_exceptions=False)
        client.__enter__()
        opened.append(client)
        return client

    yield _make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


def register(client: TestClient, username: str, password: str = PASSWORD) -> dict[str, Any]:
    response = client.post("/register", json={"username": username, "password": password})
    assert response.status_code == 201, response.text
    return dict(response.json())


def login(client: TestClient, username: str, password: str = PASSWORD) -> dict[str, Any]:
    response = client.post("/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return dict(response.json())


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


@pytest.fixture
def user(client: TestClient) -> Callable[[str], dict[str, str]]:
    """`user(name)`: register and log in a user; returns the Authorization header."""

    def _user(name: str) -> dict[str, str]:
        register(client, name)
        return bearer(login(client, name))

    return _user


@pytest.fixture
def admin(client: TestClient, db: psycopg.Connection) -> dict[str, str]:
    """An administrator's Authorization header (made one by a DBA, as the README says)."""
    register(client, "root-admin")
    db.execute("update public.users set role = 'admin' where username = 'root-admin'")
    return bearer(login(client, "root-admin"))


def serve_env(api_settings: Settings, api_secrets: dict[str, str], **extra: str) -> dict[str, str]:
    """The environment of a server process for this test's database: its secrets, its DSNs and home, no
    STRONGROOM_* setting of the caller's, then `extra` (environment variable names)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")}
    env.update(api_secrets, DATABASE_URL=str(api_settings.database_url),
               STRONGROOM_API_DATABASE_URL=str(api_settings.api_database_url),
               STRONGROOM_HOME=str(api_settings.home), **extra)
    return env


def wait_for_health(url: str, process: subprocess.Popen[Any], verify: ssl.SSLContext | bool = True,
                    seconds: float = 60) -> None:
    """Until `url`/health answers; a server that exits or never answers fails the test."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            httpx.get(f"{url}/health", timeout=2, verify=verify)
            return
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the server for {url} did not start") from None
            time.sleep(0.1)


class LiveApi:
    """A real uvicorn serving the app against this test's database."""

    def __init__(self, process: subprocess.Popen[bytes], base: str) -> None:
        self.process = process
        self.base = base

    def stop(self) -> None:
        stop_process(self.process)


@pytest.fixture
def live_api(api_settings: Settings, api_secrets: dict[str, str]) -> Iterator[Callable[..., LiveApi]]:
    """`live_api(*uvicorn_args, **env)`: start uvicorn on a free port with extra options and STRONGROOM_*
    settings; stopped at teardown."""
    started: list[LiveApi] = []

    def _start(*uvicorn_args: str, **extra: str) -> LiveApi:
        port = free_port()
        env = serve_env(api_settings, api_secrets, **({"STRONGROOM_LOGIN_RATE_PER_MINUTE": "1000"} |
                                                      {f"STRONGROOM_{k.upper()}": v for k, v in extra.items()}))
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.http.app:app", "--host", "127.0.0.1", "--port", str(port),
             "--no-access-log", "--timeout-graceful-shutdown", "10", *uvicorn_args],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        live = LiveApi(process, f"http://127.0.0.1:{port}")
        started.append(live)
        wait_for_health(live.base, process, seconds=30)
        return live

    yield _start
    for live in started:
        live.stop()


@pytest.fixture
def serve_api(api_settings: Settings, api_secrets: dict[str, str]) -> Iterator[Callable[..., str]]:
    """`serve_api(tls=(cert, key) or None, **settings)`: `strongroom serve` itself, one worker on a free port,
    over TLS with that pair when given, with extra STRONGROOM_* settings; its URL. Stopped at teardown."""
    processes: list[subprocess.Popen[bytes]] = []

    def _start(tls: tuple[Path, Path] | None = None, **extra: str) -> str:
        port = free_port()
        env = serve_env(api_settings, api_secrets, **{f"STRONGROOM_{k.upper()}": v for k, v in extra.items()})
        flags = ["--tls-cert", str(tls[0]), "--tls-key", str(tls[1])] if tls else []
        process = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port",
                                    str(port), "--workers", "1", *flags],
                                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(process)
        url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
        wait_for_health(url, process, ssl.create_default_context(cafile=str(tls[0])) if tls else True)
        return url

    yield _start
    for process in processes:
        stop_process(process)
