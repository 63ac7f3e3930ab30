"""The API process's own log: JSON lines on stderr with the request id, never a token, password or secret."""

from __future__ import annotations

import atexit
import json
import logging
import sys
import threading
import time
from collections import deque
from json.encoder import encode_basestring_ascii as _quote
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

    _second = -1
    _stamp = ""

    def request_line(self, created: float, request_id: str, client_request_id: str | None, method: str, path: str,
                     status: int, ms: float, client: str) -> str:
        """The access line of one request, byte for byte what format() writes for its record (the time to
        the second, formatted once per second). A template, not the JSON encoder: the encoder took ~5 µs a
        line, most of the access line's cost. Every string a client chose goes through the encoder's own
        escaping (ASCII only, no control character); the request id is ours (hex)."""
        if int(created) != self._second:
            self._second, self._stamp = int(created), time.strftime("%Y-%m-%dT%H:%M:%S", self.converter(created))
        theirs = "null" if client_request_id is None else _quote(client_request_id)
        return (f'{{"time": "{self._stamp}", "level": "INFO", "logger": "{ACCESS}", "msg": "request", '
                f'"request_id": "{request_id}", "client_request_id": {theirs}, "method": {_quote(method)}, '
                f'"path": {_quote(path)}, "status": {status:d}, "ms": {ms!r}, "client": {_quote(client)}}}')


ACCESS = "strongroom.access"


class Batched(logging.Handler):
    """Keeps records in memory; a thread formats and writes them every FLUSH_SECONDS in one write.

    The request path pays one deque append: no system call, and no thread woken per line (a queue handing
    each record to a listener thread cost about 50 µs of lock hand-over per request). An access line comes
    already formatted (a string: a thread formatting a second's worth under the GIL, and the dicts kept for
    it meanwhile, which the garbage collector walked, cost more than formatting it on the spot); other
    records are formatted here. What is pending is written at exit; a process killed with SIGKILL loses at
    most the last FLUSH_SECONDS.
    """

    FLUSH_SECONDS = 0.2

    def __init__(self, stream: IO[str]) -> None:
        super().__init__()
        self.stream = stream
        self.pending: deque[logging.LogRecord | str] = deque()
        self.wake = threading.Event()
        threading.Thread(target=self._run, name="strongroom-log", daemon=True).start()
        atexit.register(self.flush)

    def emit(self, record: logging.LogRecord) -> None:
        self.pending.append(record)

    def format_pending(self, item: logging.LogRecord | str) -> str:
        return item if isinstance(item, str) else self.format(item)

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
_parent = logging.getLogger(ACCESS.rpartition(".")[0])  # where configure_logging puts the handler
_line = JsonLines()


def log_request(request_id: str, client_request_id: str | None, method: str, path: str, status: int, ms: float,
                client: str) -> None:
    """The access line of a request. While only this module's handler would see it, it goes straight to
    its buffer, formatted: a LogRecord costs more than the rest of the edge middleware together. Any other
    handler (a test's, an operator's) gets the usual record."""
    handler = _handler
    if handler is not None and not _access.handlers and _parent.handlers == [handler] \
            and not _parent.filters and not _access.filters and _access.isEnabledFor(logging.INFO):
        handler.pending.append(_line.request_line(time.time(), request_id, client_request_id, method, path,
                                                  status, ms, client))
    else:
        _access.info("request", extra={"request_id": request_id, "client_request_id": client_request_id,
                                       "method": method, "path": path, "status": status, "ms": ms,
                                       "client": client})


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
