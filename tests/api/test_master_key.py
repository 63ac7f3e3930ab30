"""A node with the wrong master key does not say it is ready: `strongroom serve` refuses to start with it,
and a real uvicorn answers /ready 503 with the reason once the key stops matching while it runs.

The code under test: api.master_key_matches (sql/53_api_keys.sql), api/http/readiness.py and
api/cli/commands/serve.py.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Callable

import httpx
import psycopg

from api.http.readiness import WRONG_MASTER_KEY
from api.settings import ROOT
from api.testing.plugin import free_port
from tests.api.conftest import LiveApi, serve_env


def other_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_serve_refuses_a_wrong_master_key_in_one_line_naming_the_setting_never_the_key(api_settings, api_secrets):
    wrong = other_key()
    process = subprocess.run(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(free_port()), "--workers", "1"],
        env=serve_env(api_settings, api_secrets, STRONGROOM_MASTER_KEY=wrong), cwd=ROOT,
        capture_output=True, text=True, timeout=120,
    )

    assert process.returncode == 1
    assert process.stderr == f"strongroom: {WRONG_MASTER_KEY}\n"
    assert wrong not in process.stdout + process.stderr
    assert api_secrets["STRONGROOM_MASTER_KEY"] not in process.stdout + process.stderr


def test_ready_turns_503_with_the_reason_when_the_master_key_stops_matching(
        live_api: Callable[..., LiveApi], api_secrets: dict[str, str], db: psycopg.Connection) -> None:
    api = live_api()
    assert httpx.get(f"{api.base}/ready").status_code == 200
    new = other_key()
    with db.transaction():  # a DBA re-wraps the data keys under a new master key while this node runs
        db.execute("select set_config('strongroom.master_key', %s, true),"
                   " set_config('strongroom.new_master_key', %s, true)", [api_secrets["STRONGROOM_MASTER_KEY"], new])
        db.execute("select * from api.rewrap_master()")

    response = httpx.get(f"{api.base}/ready")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "reason": WRONG_MASTER_KEY}
    assert api_secrets["STRONGROOM_MASTER_KEY"] not in response.text and new not in response.text
