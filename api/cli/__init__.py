"""`strongroom`: the command line. A thin shell over the same functions the tests use.

Each command group lives in `api/cli/commands/<group>.py` and adds itself with `register(subparsers)`.
Every command has help text and exits non-zero with a one-line reason on failure.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from api.cli.commands import admin, audit, db, keys, secrets, serve, tls
from api.cli.commands import gui as gui_command

GROUPS = (db, secrets, serve, tls, gui_command, admin, keys, audit)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="strongroom",
        description="Strongroom: a secure data-entry system whose logic lives in PostgreSQL.",
    )
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for group in GROUPS:
        group.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    # A command that hands its arguments on (`db psql -c ...`) takes the ones we do not know; any other
    # command refuses them as argparse does.
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "pass_through", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("strongroom: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # every failure ends as one line, never a traceback
        from api.cli.errors import describe

        print(f"strongroom: {describe(error)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
