"""`python -m gui [--api URL]`: open the desktop client.

The API's address comes from `--api`, else `STRONGROOM_API_URL`, else what `strongroom serve` serves with the
same settings (`STRONGROOM_API_HOST`, `STRONGROOM_API_PORT`, https when `STRONGROOM_TLS_CERT_FILE` is set).
Over https the server is verified against the system's trust store, `STRONGROOM_API_CA_FILE`, or the pinned
`STRONGROOM_API_FINGERPRINT` (api/tls.py); verification is never turned off. The device tokens the API hands out at a
first login (so that strangers' failed logins cannot lock this computer out) are kept in
`$XDG_CONFIG_HOME/strongroom/devices.json` (default `~/.config`), mode 0600.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from api.client import ApiClient
from api.settings import get_settings

API_URL_VARIABLE = "STRONGROOM_API_URL"


def api_url(given: str | None) -> str:
    return (given or get_settings().client_api_url).rstrip("/")


def device_file() -> Path:
    """Where this computer's device tokens live."""
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "strongroom" / "devices.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api", metavar="URL",
                        help=f"the API's address (default: ${API_URL_VARIABLE}, else what `strongroom serve` "
                        "serves: STRONGROOM_API_HOST, STRONGROOM_API_PORT, https with STRONGROOM_TLS_CERT_FILE)")


def open_client(url: str) -> int:
    """Open the window and run until it closes; a missing display is one line, not a traceback."""
    import tkinter as tk

    from gui.app import Application

    # Tk objects must be finalized on the Tk thread; the cyclic garbage collector runs on whichever thread
    # allocates, worker threads included. So automatic collection is off and the window collects itself
    # once a second (Application._tick); reference counting still frees everything else at once.
    gc.disable()
    settings = get_settings()
    try:
        client = ApiClient(url, device_file=device_file(), ca_file=settings.api_ca_file,
                           fingerprint=settings.api_fingerprint)
    except (OSError, ValueError) as error:
        print(f"strongroom gui: cannot set up trust in {url} ({error}): check STRONGROOM_API_CA_FILE and "
              "STRONGROOM_API_FINGERPRINT", file=sys.stderr)
        return 1
    try:
        app = Application(url, client=client)
    except tk.TclError as error:
        print(f"strongroom gui: cannot open a window ({error}); is DISPLAY set?", file=sys.stderr)
        return 1
    app.mainloop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gui", description="Strongroom's desktop client.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    return open_client(api_url(args.api))


if __name__ == "__main__":
    sys.exit(main())
