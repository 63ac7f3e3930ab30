"""The worker keeps the window alive: requests run off the UI thread and their results come back to it."""

from __future__ import annotations

import gc
import threading
import tkinter as tk
from collections.abc import Iterator
from tkinter import ttk
from typing import Any

import pytest
from fastapi import FastAPI

from api.client import ApiClient, Unreachable
from gui.worker import Worker
from tests.gui.harness import free_port, wait_for


@pytest.fixture
def root(xvfb: str) -> Iterator[tk.Tk]:
    gc.disable()  # Tk objects are freed on this thread only (see gui.__main__)
    window = tk.Tk()
    yield window
    window.destroy()
    gc.collect()
    gc.enable()


def test_a_window_keeps_processing_events_while_the_server_holds_a_request_open(root: tk.Tk, serve: Any) -> None:
    release = threading.Event()
    app = FastAPI()

    @app.get("/health")
    def health() -> dict[str, str]:
        release.wait(60)
        return {"status": "ok"}

    server = serve(app)
    worker = Worker(root)
    ticks = tk.IntVar(root, 0)
    answer = ttk.Label(root, text="waiting")
    answer.pack()

    def tick() -> None:
        ticks.set(ticks.get() + 1)
        root.after(20, tick)

    job = worker.submit("health", ApiClient(server.url, timeout=60).health,
                        on_done=lambda result: answer.configure(text=result["status"]))
    root.after(20, tick)
    wait_for(lambda: ticks.get() >= 5, what="the timer to run five times", root=root)

    held = not job.done and str(answer.cget("text")) == "waiting"
    release.set()
    wait_for(lambda: job.done, what="the held request to land", root=root)

    assert held, "the timer ran while the request was still open"
    assert str(answer.cget("text")) == "ok"
    worker.close(wait=True)


def test_a_failure_is_delivered_to_the_ui_thread_as_an_exception(root: tk.Tk) -> None:
    worker = Worker(root)
    seen: list[tuple[str, BaseException]] = []
    client = ApiClient(f"http://127.0.0.1:{free_port()}", retries=0)

    job = worker.submit("health", client.health,
                        on_error=lambda error: seen.append((threading.current_thread().name, error)))
    wait_for(lambda: job.done, what="the job to fail", root=root)

    assert seen[0][0] == threading.main_thread().name
    assert isinstance(seen[0][1], Unreachable)
    assert worker.busy == 0
    worker.close(wait=True)
