"""`strongroom secrets ...`: the three server secrets (master key, JWT secret, pepper)."""

from __future__ import annotations

import argparse
import base64
import os
import secrets as random
from collections.abc import Mapping

from api.cli.commands import command_group
from api.settings import SECRET_NAMES, Settings, get_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    add = command_group(subparsers, "secrets", "create and check the server's secrets", __doc__)
    add("init", init_secrets, "generate the secrets into $STRONGROOM_HOME/secrets.env (0600) when none are set",
        "Generate STRONGROOM_MASTER_KEY, STRONGROOM_JWT_SECRET and STRONGROOM_PEPPER (32 random bytes each, "
        "base64) into $STRONGROOM_HOME/secrets.env, mode 0600, when neither the environment nor that file sets "
        "any of them. Never prints a secret.")
    add("check", check_secrets, "check that every secret is set and strong enough")


def init_secrets(_: argparse.Namespace) -> None:
    print(write_secrets(get_settings()))


def write_secrets(settings: Settings, environ: Mapping[str, str] = os.environ) -> str:
    """Generate the three secrets into `settings.home`/secrets.env (0600) unless they exist there or `environ`
    sets any of them; returns what happened, in one line. Never returns or prints a secret."""
    path = settings.secrets_file
    if path.exists():
        return f"secrets already exist in {path}"
    present = [name for name in SECRET_NAMES if environ.get(name)]
    if present:
        return "secrets come from the environment; nothing generated"
    settings.home.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write("# Strongroom's server secrets. Keep this file private (mode 0600) and backed up:\n")
        out.write("# without STRONGROOM_MASTER_KEY no encrypted field can be read again.\n")
        for name in SECRET_NAMES:
            out.write(f"{name}={base64.b64encode(random.token_bytes(32)).decode()}\n")
    return f"generated the server secrets into {path} (mode 0600); back this file up"


def check_secrets(_: argparse.Namespace) -> None:
    get_settings().require_secrets()
    print("all secrets are set and strong enough")
