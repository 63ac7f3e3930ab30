"""This suite's own fixtures. Strongroom's (`make_account`, `act_as`, `superuser`, ...) need no import."""

from __future__ import annotations

import pytest


@pytest.fixture
def order_text() -> str:
    return "two chairs, one table"
