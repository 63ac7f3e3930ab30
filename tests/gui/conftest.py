"""Fixtures for the desktop client's tests: a real X server (Xvfb), real HTTP servers, the window and its robot.

The tests start Xvfb themselves and point DISPLAY at it, so they run headless anywhere `make gui-deps`
has installed Xvfb and xdotool.
"""

from __future__ import annotations

import gc
import shutil
import tkinter as tk
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.gui.harness import LiveServer, Robot, virtual_display
from tests.gui.realapi import api_secrets, api_settings, make_admin, real_api  # noqa: F401 - the real API's fixtures


@pytest.fixture(scope="session")
def xvfb() -> Iterator[str]:
    """A private X display for the session; DISPLAY points at it while the tests run."""
    if shutil.which("Xvfb") is None or shutil.which("xdotool") is None:
        pytest.fail("Xvfb and xdotool are needed for the GUI tests: run `make gui-deps`")
    with virtual_display() as display:
        yield display


@pytest.fixture
def serve() -> Iterator[Callable[..., LiveServer]]:
    """`serve(app)`: start a real uvicorn for `app`; every server is stopped at teardown."""
    servers: list[LiveServer] = []

    def _serve(app: Any, port: int | None = None) -> LiveServer:
        server = LiveServer(app, port).start()
        servers.append(server)
        return server

    yield _serve
    for server in servers:
        server.stop()


@pytest.fixture
def open_app(xvfb: str) -> Iterator[Callable[..., Any]]:
    """`open_app(url, **options)`: the desktop client's main window on the test display, and its robot."""
    from gui.app import Application

    opened: list[Any] = []
    gc.disable()  # as `python -m gui` does: garbage is collected on the Tk thread only (gui.__main__)

    def _open(url: str, **options: Any) -> tuple[Any, Robot]:
        app = Application(url, **options)
        opened.append(app)
        robot = Robot(app)
        robot.wait(lambda: app.login_dialog.winfo_viewable() and app.grab_current() is not None,
                   "the login dialog")
        return app, robot

    yield _open
    for app in opened:
        try:
            app.quit_app()
        except tk.TclError:
            pass
        # Let every request end and drop what it holds here, so no Tk object is ever freed on another thread.
        app.worker.close(wait=True)
    opened.clear()
    gc.collect()
    gc.enable()
