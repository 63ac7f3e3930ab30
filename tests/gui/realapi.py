"""The real API for the desktop client's end-to-end tests: uvicorn serving `api.http.app:app` on this test's database.

It reuses the API tests' settings fixtures (secrets, the clone's DSNs, an active data key) and serves them with
`RealApi` (tests/gui/harness.py): a server that can be stopped and started again on the same address (the
window keeps its URL), with helpers to arrange users over plain HTTP.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import psycopg
import pytest

from api.settings import Settings
from tests.api.conftest import api_secrets, api_settings  # noqa: F401 - the fixtures real_api depends on
from tests.gui.harness import PASSWORD, RealApi

__all__ = ["PASSWORD", "RealApi", "make_admin", "real_api"]


@pytest.fixture
def real_api(api_settings: Settings, api_secrets: dict[str, str]) -> Iterator[RealApi]:  # noqa: F811
    """The API serving this test's database, with a statement timeout long enough to hold a request open."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")}
    env.update(api_secrets)
    env.update(DATABASE_URL=str(api_settings.database_url),
               STRONGROOM_API_DATABASE_URL=str(api_settings.api_database_url),
               STRONGROOM_HOME=str(api_settings.home), STRONGROOM_LOGIN_RATE_PER_MINUTE="1000",
               STRONGROOM_STATEMENT_TIMEOUT_MS="60000")
    api = RealApi(env).start()
    yield api
    api.stop()


@pytest.fixture
def make_admin(db: psycopg.Connection) -> Callable[[str], None]:
    """`make_admin(username)`: what a DBA does to make the first administrator."""

    def _make(username: str) -> None:
        db.execute("update public.users set role = 'admin' where username = %s", [username])

    return _make
