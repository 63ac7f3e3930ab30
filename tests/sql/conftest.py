"""Fixtures shared by the SQL tests of the data functions: two users, the first with an active data key."""

from __future__ import annotations

import psycopg
import pytest

from tests.sql.crypto_support import ensure_key, make_user


@pytest.fixture
def alice(db: psycopg.Connection) -> int:
    """A user, and an active data key to encrypt what they write."""
    ensure_key(db)
    return make_user(db, "alice")


@pytest.fixture
def bob(db: psycopg.Connection) -> int:
    return make_user(db, "bob")
