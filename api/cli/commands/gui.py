"""`strongroom gui [--api URL]`: open the desktop client.

The command line reaches the client only through its entry point, `python -m gui`, run as a child process:
the CLI imports nothing of the GUI, and the client's own exit status and one-line failures are passed on.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "gui", help="open the desktop client",
        description="Open the Tkinter desktop client (the same as `python -m gui`). It speaks only to the REST "
        "API: start that first (`strongroom serve`).")
    parser.add_argument("--api", metavar="URL",
                        help="the API's address (default: $STRONGROOM_API_URL, else what `strongroom serve` "
                        "serves with the same settings; see `python -m gui --help`)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("gui") is None:
        print("strongroom gui: the desktop client is not installed here (container images ship the API "
              "only); install the strongroom wheel on the desktop machine", file=sys.stderr)
        return 1
    argv = [sys.executable, "-m", "gui", *(["--api", args.api] if args.api else [])]
    return subprocess.call(argv)
