"""Fixtures of the Python client's tests: the real API (uvicorn in a child process) on this test's database."""

from tests.gui.realapi import api_secrets, api_settings, make_admin, real_api  # noqa: F401 - the real API's fixtures
