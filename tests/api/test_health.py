"""`/health` and `/ready` served by a real uvicorn against the test database."""

import base64
import os
import subprocess
import sys
import time

import httpx
import psycopg
import pytest
from psycopg import sql

from api.settings import SECRET_NAMES
from api.testing.plugin import free_port


def serve(pg, dbname: str):
    """A real uvicorn serving the app, logging in as the authenticator role to `dbname`."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")}
    env.update({name: base64.b64encode(os.urandom(32)).decode() for name in SECRET_NAMES})
    if os.environ.get("STRONGROOM_TEST_MASTER_KEY"):  # the key the template's data key is wrapped with
        env["STRONGROOM_MASTER_KEY"] = os.environ["STRONGROOM_TEST_MASTER_KEY"]
    env.update(DATABASE_URL=pg.dsn(dbname), STRONGROOM_API_DATABASE_URL=pg.dsn(dbname, user="strongroom_authenticator"))
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.http.app:app", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{base}/health", timeout=1)
            return process, base
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(process.stderr.read().decode() if process.stderr else "uvicorn did not start")


@pytest.fixture
def api(pg, db):
    process, base = serve(pg, db.info.dbname)
    yield base
    process.terminate()
    process.wait(10)


@pytest.fixture
def unmigrated_api(pg):
    name = "strongroom_unmigrated"
    with psycopg.connect(pg.dsn(), autocommit=True) as admin:
        admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        admin.execute(sql.SQL("grant connect on database {} to strongroom_authenticator").format(sql.Identifier(name)))
    process, base = serve(pg, name)
    yield base
    process.terminate()
    process.wait(10)
    with psycopg.connect(pg.dsn(), autocommit=True) as admin:
        admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


def test_health_answers_while_the_process_lives(api):
    response = httpx.get(f"{api}/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_ready_reports_the_postgresql_version_when_migrated(api, db):
    response = httpx.get(f"{api}/ready")

    assert response.status_code == 200
    assert response.json()["postgresql"] == db.execute("show server_version").fetchone()[0]


def test_ready_is_503_with_the_reason_when_the_code_is_stale(api, db):
    db.execute("update private.installed_code set sha256 = repeat('0', 64) where file_name = '00_schemas.sql'")

    response = httpx.get(f"{api}/ready")

    assert response.status_code == 503
    assert "strongroom db migrate" in response.json()["reason"] and "00_schemas.sql" in response.json()["stale"]


def test_ready_is_503_when_the_database_was_never_migrated(unmigrated_api):
    response = httpx.get(f"{unmigrated_api}/ready")
    assert response.status_code == 503 and "not migrated" in response.json()["reason"]


def test_swagger_ui_is_served(api):
    response = httpx.get(f"{api}/docs")
    assert response.status_code == 200 and "swagger" in response.text.lower()
