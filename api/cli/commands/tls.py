"""`strongroom tls ...`: a self-signed certificate for a LAN deployment, and the fingerprint clients pin."""

from __future__ import annotations

import argparse
import socket
from pathlib import Path

from api import tls
from api.cli.commands import command_group
from api.cli.errors import CommandFailed
from api.settings import get_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    add = command_group(subparsers, "tls", "HTTPS: a self-signed certificate, its fingerprint", __doc__)
    made = add("self-signed", self_signed,
               "make a self-signed certificate and key for `strongroom serve` and print its SHA-256 fingerprint",
               description="Write cert.pem and key.pem (mode 0600) for the names and addresses clients use to "
               "reach this server (localhost and 127.0.0.1 are always included), and print the SHA-256 "
               "fingerprint that clients pin with STRONGROOM_API_FINGERPRINT (or give them cert.pem as "
               "STRONGROOM_API_CA_FILE).")
    made.add_argument("--host", action="append", default=[], metavar="NAME_OR_IP",
                      help="a DNS name or IP address clients use (repeat it); default: this machine's host name")
    made.add_argument("--out", type=Path, help="folder to write into (default: $STRONGROOM_HOME/tls)")
    made.add_argument("--days", type=int, default=825, help="validity in days (default %(default)s)")
    made.add_argument("--force", action="store_true", help="replace a pair that is already there")
    shown = add("fingerprint", show_fingerprint, "print the SHA-256 fingerprint of a certificate (default: the "
                "one `strongroom serve` presents, STRONGROOM_TLS_CERT_FILE)")
    shown.add_argument("cert", nargs="?", type=Path, help="a PEM certificate file")


def self_signed(args: argparse.Namespace) -> None:
    folder = args.out or get_settings().home / "tls"
    if (folder / "key.pem").exists() and not args.force:
        raise CommandFailed(f"{folder / 'key.pem'} already exists: pass --force to replace it (clients that "
                            "pinned the old fingerprint will refuse the new one)")
    hosts = args.host or [socket.gethostname()]
    cert, key, fingerprint = tls.write_pair(folder, hosts, args.days)
    print(f"wrote {cert} and {key} (mode 0600) for {', '.join(dict.fromkeys([*hosts, 'localhost', '127.0.0.1']))}")
    print(f"SHA-256 fingerprint: {fingerprint}")
    print(f"serve with: STRONGROOM_TLS_CERT_FILE={cert} STRONGROOM_TLS_KEY_FILE={key} strongroom serve")
    print(f"clients pin it with: STRONGROOM_API_FINGERPRINT={fingerprint}")


def show_fingerprint(args: argparse.Namespace) -> None:
    path = args.cert or get_settings().tls_cert_file
    if path is None:
        raise CommandFailed("no certificate given and STRONGROOM_TLS_CERT_FILE is not set")
    try:
        print(tls.fingerprint(path.read_text()))
    except (OSError, ValueError) as error:
        raise CommandFailed(f"cannot read a PEM certificate from {path}: {error}") from None
