"""Command groups of `strongroom`; each module has `register(subparsers)`."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import psycopg

from api.postgres.target import resolve
from api.settings import get_settings

Handler = Callable[[argparse.Namespace], Any]


def command_group(subparsers: argparse._SubParsersAction, name: str, help_text: str,
                  description: str | None) -> Callable[..., argparse.ArgumentParser]:
    """Add `strongroom NAME ...` and return `add(command, handler, help_text, description=None)` for its
    commands; the description (for `--help`) defaults to the one-line help."""
    group = subparsers.add_parser(name, help=help_text, description=description)
    commands = group.add_subparsers(title=f"{name} commands", metavar="COMMAND", required=True)

    def add(command: str, handler: Handler, text: str, description: str | None = None) -> argparse.ArgumentParser:
        parser = commands.add_parser(command, help=text, description=description or text)
        parser.set_defaults(handler=handler)
        return parser

    return add


def admin_connection() -> psycopg.Connection:
    """An autocommit connection with the administrative DSN (the embedded server's superuser, or
    DATABASE_URL's login), for commands that call SQL procedures one at a time."""
    return psycopg.connect(resolve(get_settings()).admin_dsn, autocommit=True)
