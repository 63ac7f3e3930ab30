"""Command groups of `strongroom`; each module has `register(subparsers)`."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

Handler = Callable[[argparse.Namespace], Any]


def command_group(subparsers: argparse._SubParsersAction, name: str, help_text: str,
                  description: str | None) -> Callable[..., argparse.ArgumentParser]:
    """Add `strongroom NAME ...` and return `add(command, handler, help_text)` for its commands."""
    group = subparsers.add_parser(name, help=help_text, description=description)
    commands = group.add_subparsers(title=f"{name} commands", metavar="COMMAND", required=True)

    def add(command: str, handler: Handler, text: str) -> argparse.ArgumentParser:
        parser = commands.add_parser(command, help=text, description=text)
        parser.set_defaults(handler=handler)
        return parser

    return add
