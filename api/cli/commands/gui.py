"""`strongroom gui [--api URL]`: open the desktop client (the same as `python -m gui`)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    from gui.__main__ import add_arguments

    parser = subparsers.add_parser(
        "gui", help="open the desktop client",
        description="Open the Tkinter desktop client. It speaks only to the REST API: start that first "
        "(`strongroom serve`).")
    add_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from gui.__main__ import api_url, open_client

    return open_client(api_url(args.api))
