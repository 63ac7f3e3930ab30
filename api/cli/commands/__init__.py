"""Command groups of `strongroom`; each module has `register(subparsers)`.

What every group shares lives here, once: `command_group` (the parser of a group), `admin_connection`
(the one way a command connects) and `new_secret` (the one way a command asks for a secret; the server's
own secrets come from `Settings.secret`).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable
from typing import Any

import psycopg

from api.cli.errors import CommandFailed
from api.postgres.target import resolve
from api.settings import Settings, get_settings

Handler = Callable[[argparse.Namespace], Any]

# Commands that manage keys run as the owner: `strongroom db migrate` makes the connecting user a member of
# it (it need not be a member of strongroom_admin, e.g. on an external server), and the owner may run every
# key function. private.require_key_admin() accepts it because it is not the API's authenticator.
OWNER = "strongroom_owner"


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


def admin_connection(*, as_owner: bool = False, master_key: bool = False,
                     settings: Settings | None = None) -> psycopg.Connection:
    """An autocommit connection with the administrative DSN (the embedded server's superuser, or
    DATABASE_URL's login), for commands that call SQL functions and procedures one at a time.

    `as_owner` switches the session to strongroom_owner; `master_key` sets the master key for the session,
    so such a connection serves one command and is closed with it (`with admin_connection(...) as conn`).
    `settings` default to the process's (an `api.instance.Instance` passes its own).
    """
    settings = settings or get_settings()
    key = settings.secret("STRONGROOM_MASTER_KEY") if master_key else None
    conn = psycopg.connect(resolve(settings).admin_dsn, autocommit=True)
    try:
        if as_owner:
            conn.execute(f"set role {OWNER}")
        if key is not None:
            conn.execute("select pg_catalog.set_config('strongroom.master_key', %s, false)", [key])
    except BaseException:
        conn.close()
        raise
    return conn


def new_secret(variable: str, prompt: str, noun: str) -> str:
    """A secret the person running the command supplies: from the environment variable when it is set (for
    scripts), else typed twice on the terminal after `prompt`, never echoed. Without either, CommandFailed
    names the variable."""
    value = os.environ.get(variable)
    if value:
        return value
    if not sys.stdin.isatty():
        raise CommandFailed(f"no terminal to ask for the {noun}: set {variable}")
    first = getpass.getpass(f"{prompt}: ")
    if getpass.getpass(f"Repeat the {noun}: ") != first:
        raise CommandFailed(f"the two {noun}s differ; nothing was changed")
    return first
