"""One line for any failure a command can meet: what went wrong, never a traceback or a secret."""

from __future__ import annotations

import psycopg
from pydantic import ValidationError

from api.postgres.embedded import ServerError
from api.postgres.migrate import MigrationError
from api.settings import SecretError


class CommandFailed(Exception):
    """The command line's one error type: a failure the user can act on. `strongroom` prints its message as
    one line, `strongroom: <message>`, and exits 1."""


# Errors of the modules the commands call, whose messages are already written for the user.
KNOWN = (CommandFailed, ServerError, MigrationError, SecretError)


def describe(error: BaseException) -> str:
    if isinstance(error, KNOWN):
        return str(error)
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "settings"
        return f"invalid setting {where}: {first['msg']}"
    if isinstance(error, psycopg.Error):
        diag = getattr(error, "diag", None)
        message = diag.message_primary if diag and diag.message_primary else str(error).splitlines()[0]
        hint = f" ({diag.message_hint})" if diag and diag.message_hint else ""
        return f"database error: {message}{hint}"
    return f"{type(error).__name__}: {error}"
