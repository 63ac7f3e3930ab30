"""The API process's own log: JSON lines on stderr with the request id, never a token, password or secret."""

from __future__ import annotations

import atexit
import json
import logging
import sys
import threading
import time
from collections import deque
from typing import IO, Any


class JsonLines(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the record's extra fields."""

    SKIP = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime", "color_message"}

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"), "level": record.levelname,
                                "logger": record.name, "msg": record.getMessage()}
        line.update({k: v for k, v in vars(record).items() if k not in self.SKIP})
        if record.exc_info and record.exc_info[0] is not None:
            line["error"] = record.exc_info[0].__name__  # the type only: a traceback may quote a secret
        return json.dumps(line, default=str)

    _encode = json.JSONEncoder(default=str).encode  # json.dumps(..., default=str) makes one per call
    _second = -1
    _stamp = ""

    def request_line(self, created: float, fields: dict[str, Any]) -> str:
        """The access line of one request, as format() would write its record (the time to the second,
        formatted once per second)."""
        if int(created) != self._second:
            self._second, self._stamp = int(created), time.strftime("%Y-%m-%dT%H:%M:%S", self.converter(created))
        return self._encode({"time": self._stamp, "level": "INFO", "logger": ACCESS, "msg": "request", **fields})


ACCESS = "strongroom.access"


class Batched(logging.Handler):
    """Keeps records in memory; a thread formats and writes them every FLUSH_SECONDS in one write.

    The request path pays one deque append: no formatting, no system call, and no thread woken per line
    (a queue handing each record to a listener thread cost about 50 µs of lock hand-over per request).
    What is pending is written at exit; a process killed with SIGKILL loses at most the last FLUSH_SECONDS.
    """

    FLUSH_SECONDS = 0.2

    def __init__(self, stream: IO[str]) -> None:
        super().__init__()
        self.stream = stream
        self.pending: deque[logging.LogRecord | tuple[float, dict[str, Any]]] = deque()
        self.wake = threading.Event()
        threading.Thread(target=self._run, name="strongroom-log", daemon=True).start()
        atexit.register(self.flush)

    def emit(self, record: logging.LogRecord) -> None:
        self.pending.append(record)

    def format_pending(self, item: logging.LogRecord | tuple[float, dict[str, Any]]) -> str:
        if isinstance(item, logging.LogRecord):
            return self.format(item)
        formatter = self.formatter if isinstance(self.formatter, JsonLines) else JsonLines()
        return formatter.request_line(*item)

    def handle(self, record: logging.LogRecord) -> bool:  # no lock: deque.append is thread-safe
        if self.filter(record):
            self.pending.append(record)
        return True

    def flush(self) -> None:
        lines = []
        while self.pending:
            lines.append(self.format_pending(self.pending.popleft()) + "\n")
        if lines:
            with self.lock:  # type: ignore[union-attr]
                self.stream.write("".join(lines))
                self.stream.flush()

    def _run(self) -> None:
        while True:
            self.wake.wait(self.FLUSH_SECONDS)
            try:
                self.flush()
            except Exception:
                self.pending.clear()


_handler: Batched | None = None
_access = logging.getLogger(ACCESS)


def log_request(fields: dict[str, Any]) -> None:
    """The access line of a request. While only this module's handler would see it, it goes straight to
    its buffer: a LogRecord costs more than the rest of the edge middleware together. Any other handler
    (a test's, an operator's) gets the usual record."""
    if _handler is not None and _access.handlers == [] and _access.parent is not None \
            and _access.parent.handlers == [_handler] and _access.isEnabledFor(logging.INFO) \
            and not _access.parent.filters and not _access.filters:
        _handler.pending.append((time.time(), fields))
    else:
        _access.info("request", extra=fields)


def configure_logging(level: int = logging.INFO) -> None:
    """JSON lines on stderr for the API's own loggers; no token, password or secret is ever logged.

    The request path only appends the record to a buffer; a thread per process formats and writes them
    (see Batched).
    """
    global _handler
    if _handler is None:
        _handler = Batched(sys.stderr)
        _handler.setFormatter(JsonLines())
    for name in ("strongroom", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [_handler]
        logger.setLevel(level)
        logger.propagate = False
