"""The GUI tests' harness: real HTTP servers in threads, waiting without freezing Tk, a robot that clicks.

Widgets are driven the way a person drives them: the robot moves the real pointer and presses real keys
with xdotool, so Tk receives the same X events as from a mouse and keyboard.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
import tkinter as tk
from collections.abc import Callable, Iterator
from tkinter import ttk
from typing import Any

import httpx
import uvicorn

from api.testing.plugin import free_port, stop_process

# A guard against a test that would otherwise hang forever; never a measure of speed.
PATIENCE = 30.0

PASSWORD = "correct horse battery staple"

__all__ = ["PASSWORD", "PATIENCE", "LiveServer", "RealApi", "Robot", "free_port", "log_in", "virtual_display",
           "wait_for"]


@contextlib.contextmanager
def virtual_display(size: str = "1280x900x24") -> Iterator[str]:
    """Start Xvfb on a free display number and point DISPLAY at it until the block ends."""
    read_fd, write_fd = os.pipe()
    process = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", size, "-nolisten", "tcp", "-noreset"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()
    if not number:
        process.kill()
        raise RuntimeError("Xvfb did not start")
    previous = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = f":{number}"
    try:
        yield f":{number}"
    finally:
        if previous is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = previous
        process.terminate()
        process.wait(10)


class LiveServer:
    """A real uvicorn serving `app` on a fixed port in a thread; it can be stopped and started again."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.app = app
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> LiveServer:
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="off", timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        wait_for(lambda: self._server is not None and self._server.started, what="uvicorn to start")
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(PATIENCE)
        self._server = self._thread = None


def wait_for(predicate: Callable[[], object], *, what: str, root: tk.Misc | None = None) -> None:
    """Wait until `predicate()` is true, processing Tk events meanwhile when a root is given."""
    deadline = time.monotonic() + PATIENCE
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        if root is not None:
            root.update()
        time.sleep(0.01)


class Robot:
    """Drives real widgets with real X input (xdotool), then lets Tk process what arrived."""

    def __init__(self, root: tk.Tk) -> None:
        self.root = root

    def _xdotool(self, *args: str) -> None:
        subprocess.run(["xdotool", *args], check=True, env=os.environ)

    def settle(self) -> None:
        """Process pending events, then make sure the X server has delivered ours (a round trip)."""
        self.root.update()
        self.root.tk.call("update", "idletasks")
        # xdotool's X requests have been processed once a round trip to the server returns.
        self.root.winfo_pointerxy()
        self.root.update()

    def _center(self, widget: tk.Misc) -> tuple[int, int]:
        wait_for(lambda: widget.winfo_viewable(), what=f"{widget} to be visible", root=self.root)
        self.root.update()
        return (widget.winfo_rootx() + widget.winfo_width() // 2,
                widget.winfo_rooty() + widget.winfo_height() // 2)

    def _move(self, x: int, y: int) -> list[str]:
        # `mousemove --sync` waits for the pointer to move, so it would wait forever if it is there already.
        return [] if self.root.winfo_pointerxy() == (x, y) else ["mousemove", "--sync", str(x), str(y)]

    def _point(self, widget: tk.Misc, at: tuple[int, int] | None) -> tuple[int, int]:
        if at is None:
            return self._center(widget)
        return widget.winfo_rootx() + at[0], widget.winfo_rooty() + at[1]

    def click(self, widget: tk.Misc, *, repeat: int = 1, at: tuple[int, int] | None = None) -> None:
        """Click the middle of `widget` (or the point `at`, relative to it)."""
        x, y = self._point(widget, at)
        self._xdotool(*self._move(x, y), "click", "--repeat", str(repeat), "--delay", "40", "1")
        self.settle()

    def double_click(self, widget: tk.Misc, at: tuple[int, int] | None = None) -> None:
        x, y = self._point(widget, at)
        self._xdotool(*self._move(x, y), "click", "--repeat", "2", "--delay", "60", "1")
        self.settle()

    @staticmethod
    def cell(tree: ttk.Treeview, iid: str, column: str) -> tuple[int, int]:
        """The middle of one cell of a Treeview, relative to the tree (for `at=`)."""
        x, y, width, height = tree.bbox(iid, column)  # type: ignore[misc]
        return x + width // 2, y + height // 2

    def type(self, widget: tk.Misc, text: str) -> None:
        """Click into `widget` and type `text` on the keyboard."""
        self.click(widget)
        wait_for(lambda: self.root.focus_get() == widget, what=f"focus on {widget}", root=self.root)
        self._xdotool("type", "--delay", "5", text)
        self.settle()

    def key(self, *keys: str) -> None:
        """Press keys (xdotool names: Return, Escape, Tab, ctrl+n) in whatever has the focus."""
        self._xdotool("key", "--delay", "20", *keys)
        self.settle()

    def wait(self, predicate: Callable[[], object], what: str) -> None:
        wait_for(predicate, what=what, root=self.root)


def log_in(app: Any, robot: Robot, username: str, password: str) -> None:
    """Type the credentials into the login dialog and press Enter; wait until the window is the user's."""
    dialog = app.login_dialog
    dialog.username.set_value("")
    robot.type(dialog.username, username)
    robot.type(dialog.password.entry, password)
    robot.key("Return")
    robot.wait(lambda: app.me.get("username") == username and not dialog.winfo_viewable(), "the login")


class RealApi:
    """uvicorn in a child process on a fixed port; `stop()` and `start()` to take it away and bring it back."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> RealApi:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.http.app:app", "--host", "127.0.0.1", "--port", str(self.port),
             "--no-access-log", "--timeout-graceful-shutdown", "2"],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + PATIENCE
        while True:
            try:
                httpx.get(f"{self.url}/health", timeout=1)
                return self
            except httpx.TransportError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("the API did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None

    def register(self, username: str, password: str = PASSWORD) -> None:
        response = httpx.post(f"{self.url}/register", json={"username": username, "password": password})
        assert response.status_code == 201, response.text

    def tokens(self, username: str, password: str = PASSWORD) -> dict[str, Any]:
        response = httpx.post(f"{self.url}/login", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        return dict(response.json())

    def call(self, method: str, path: str, tokens: dict[str, Any], **kwargs: Any) -> httpx.Response:
        return httpx.request(method, f"{self.url}{path}", headers={
            "Authorization": f"Bearer {tokens['access_token']}"}, **kwargs)
