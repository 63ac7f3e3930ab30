"""Slow work off the UI thread: worker threads run jobs, a queue brings results back, `after()` polls it.

Tk is single-threaded: only the thread that created the root may touch widgets. So a job (an HTTP call)
runs on a worker thread and never touches Tk; its result or exception is put on a queue, and a timer on
the UI thread (`after`) takes it off and calls the job's callback there. A request the server holds open
therefore costs one worker thread, never the window: it keeps repainting and answering meanwhile.
"""

from __future__ import annotations

import queue
import tkinter as tk
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

POLL_MS = 30


@dataclass
class Job:
    """One piece of work; `done` turns true on the UI thread once its callback has run."""

    name: str
    on_done: Callable[[Any], None] | None = None
    on_error: Callable[[BaseException], None] | None = None
    done: bool = False
    result: Any = None
    error: BaseException | None = field(default=None, repr=False)


class Worker:
    """Runs callables on a few threads and delivers their outcome on the Tk thread."""

    def __init__(self, root: tk.Misc, threads: int = 4) -> None:
        self._root = root
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="strongroom-gui")
        self._results: queue.SimpleQueue[tuple[Job, Any, BaseException | None]] = queue.SimpleQueue()
        self._pending: set[int] = set()
        self._closed = False
        self._timer: str | None = self._root.after(POLL_MS, self._poll)

    @property
    def busy(self) -> int:
        """How many jobs have not delivered their outcome yet."""
        return len(self._pending)

    def submit(self, name: str, fn: Callable[..., Any], *args: Any,
               on_done: Callable[[Any], None] | None = None,
               on_error: Callable[[BaseException], None] | None = None, **kwargs: Any) -> Job:
        """Run `fn(*args, **kwargs)` on a worker thread; call `on_done(result)` or `on_error(exc)` on Tk's."""
        job = Job(name, on_done, on_error)
        self._pending.add(id(job))

        def run() -> None:
            try:
                outcome = fn(*args, **kwargs)
            except BaseException as error:  # delivered to the UI thread, which decides what to show
                self._results.put((job, None, error))
            else:
                self._results.put((job, outcome, None))

        self._pool.submit(run)
        return job

    def _poll(self) -> None:
        self._timer = None
        while True:
            try:
                job, outcome, error = self._results.get_nowait()
            except queue.Empty:
                break
            self._pending.discard(id(job))
            job.result, job.error, job.done = outcome, error, True
            callback_error: BaseException | None = None
            try:
                if error is None and job.on_done is not None:
                    job.on_done(outcome)
                elif error is not None and job.on_error is not None:
                    job.on_error(error)
            except Exception as exc:  # a failing callback must not stop the polling of the others
                callback_error = exc
            if callback_error is not None:
                self._root.report_callback_exception(type(callback_error), callback_error,
                                                     callback_error.__traceback__)
        if not self._closed:
            self._timer = self._root.after(POLL_MS, self._poll)

    def close(self, wait: bool = False) -> None:
        """Stop polling; running jobs finish on their threads and their outcome is dropped.

        With `wait`, return only once every thread has ended, having dropped the outcomes here, on the Tk
        thread: a Tk object must never be finalized on another thread (Tcl is not thread-safe), and a job's
        callbacks hold widgets.
        """
        self._closed = True
        if self._timer is not None:
            try:
                self._root.after_cancel(self._timer)
            except tk.TclError:
                pass
            self._timer = None
        self._pool.shutdown(wait=wait, cancel_futures=True)
        if wait:
            while not self._results.empty():
                self._results.get_nowait()
            self._pending.clear()
