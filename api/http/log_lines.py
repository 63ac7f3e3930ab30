"""The API process's own log: JSON lines on stderr with the request id, never a token, password or secret."""

from __future__ import annotations

import atexit
import json
import logging
import logging.handlers
import queue
from typing import Any


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


class Enqueue(logging.handlers.QueueHandler):
    """Hands the record over as it is: formatting and writing happen on the listener's thread, not on the
    event loop (QueueHandler would format here). The records' extras are plain values, safe to pass on."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return record


_listener: logging.handlers.QueueListener | None = None


def configure_logging(level: int = logging.INFO) -> None:
    """JSON lines on stderr for the API's own loggers; no token, password or secret is ever logged.

    The request path only puts the record on a queue; one thread per process formats and writes the lines,
    and what is left in the queue is written at exit.
    """
    global _listener
    if _listener is None:
        output = logging.StreamHandler()
        output.setFormatter(JsonLines())
        records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
        _listener = logging.handlers.QueueListener(records, output)
        _listener.start()
        atexit.register(_listener.stop)
    handler = Enqueue(_listener.queue)
    for name in ("strongroom", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False
