"""A full disk is not a passing outage: PostgreSQL's 53100 reaches the client as `507 disk_full` without
Retry-After, the operator gets an error-level log line, /ready reports it, and the desktop client's HTTP
client says an operator must act.

The disk is a small tmpfs holding the orders table (a tablespace), filled up; mounting one needs root and a
kernel that allows it, so elsewhere the tests are skipped with the reason. The code under test: the class-53
rows of api/http/errors.py and api/http/readiness.py.
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql

from api.client import ApiClient, ApiError
from api.http.log_lines import JsonLines
from tests.api.conftest import PASSWORD, LiveApi

DESCRIPTION = "an order of typical length, some forty characters"


def fill(db: psycopg.Connection, user_id: int) -> None:
    """Insert orders (no triggers: only the space matters) until not one more row fits."""
    db.execute("set session_replication_role = replica")
    try:
        for rows in (5000, 500, 50, 5, 1):
            while True:
                try:
                    db.execute("insert into orders (user_id, description, status)"
                               " select %s, %s, 'pending' from generate_series(1, %s)", [user_id, DESCRIPTION, rows])
                except psycopg.errors.DiskFull:
                    break
    finally:
        db.execute("reset session_replication_role")


@pytest.fixture
def full_disk(db: psycopg.Connection) -> Iterator[int]:
    """The orders table on a 1 MB tmpfs that is full; yields the id of a user who can log in."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    where = Path("/tmp") / f"strongroom-full-{uuid.uuid4().hex[:8]}"
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(where)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        where.rmdir()
        pytest.skip(f"this machine does not allow mounting a tmpfs: {mounted.stderr.strip()}")
    name = f"full_{uuid.uuid4().hex[:8]}"
    try:
        datadir = Path(str(db.execute("show data_directory").fetchone()[0]))  # type: ignore[index]
        owner = datadir.stat()
        os.chown(where, owner.st_uid, owner.st_gid)
        db.execute(sql.SQL("create tablespace {} location {}").format(sql.Identifier(name), sql.Literal(str(where))))
        db.execute(sql.SQL("alter table orders set tablespace {}").format(sql.Identifier(name)))
        filler = db.execute("insert into users (username, hashed_password) values ('filler', 'x') returning id"
                            ).fetchone()[0]  # type: ignore[index]
        fill(db, filler)
        yield filler
    finally:
        db.execute("alter table orders set tablespace pg_default")
        db.execute(sql.SQL("drop tablespace if exists {}").format(sql.Identifier(name)))
        subprocess.run(["umount", str(where)], check=False)
        where.rmdir()


@pytest.fixture
def error_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLines())
    handler.setLevel(logging.ERROR)
    logger = logging.getLogger("strongroom")
    logger.addHandler(handler)
    yield stream
    logger.removeHandler(handler)


def test_a_full_disk_is_507_disk_full_logged_as_an_error_and_reported_by_ready(
        full_disk: int, client: TestClient, user: Callable[[str], dict[str, str]], error_lines: io.StringIO) -> None:
    alice = user("alice")

    response = client.post("/orders", json={"description": DESCRIPTION}, headers=alice)
    ready = client.get("/ready")

    assert response.status_code == 507, response.text
    assert response.json()["code"] == "disk_full" and "operator" in response.json()["detail"]
    assert "Retry-After" not in response.headers
    lines = [json.loads(line) for line in error_lines.getvalue().splitlines()]
    assert [(line["level"], line["sqlstate"], line["code"]) for line in lines] == [("ERROR", "53100", "disk_full")]
    assert ready.status_code == 503
    assert ready.json()["code"] == "disk_full" and "operator must act" in ready.json()["reason"]


def test_the_desktop_client_reports_a_full_disk_as_needing_an_operator_not_as_a_retry(
        full_disk: int, live_api: Callable[..., LiveApi]) -> None:
    api = live_api()
    client = ApiClient(api.base)
    client.register("bob", PASSWORD)
    client.login("bob", PASSWORD)

    with pytest.raises(ApiError) as refused:
        client.create_order(DESCRIPTION, "pending", False, idempotency_key=str(uuid.uuid4()))

    assert (refused.value.status, refused.value.code, refused.value.retry_after) == (507, "disk_full", None)
    assert "operator frees space" in str(refused.value)
    assert httpx.get(f"{api.base}/ready").json()["code"] == "disk_full"
