"""The server's three secrets: generated once into a 0600 file, checked, never printed."""

import base64
import os
import subprocess
import sys

import pytest

from api.settings import SECRET_NAMES


def run(tmp_path, *args, env=None):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_") and k != "DATABASE_URL"}
    environment.update({"STRONGROOM_HOME": str(tmp_path)}, **(env or {}))
    return subprocess.run([sys.executable, "-m", "api.cli", *args], capture_output=True, text=True,
                          env=environment, timeout=60)


def strong() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_init_generates_every_secret_into_a_private_file_and_prints_none(tmp_path):
    result = run(tmp_path, "secrets", "init")

    path = tmp_path / "secrets.env"
    assert result.returncode == 0 and str(path) in result.stdout
    assert path.stat().st_mode & 0o777 == 0o600
    values = dict(line.split("=", 1) for line in path.read_text().splitlines() if not line.startswith("#"))
    assert sorted(values) == sorted(SECRET_NAMES)
    for value in values.values():
        assert len(base64.b64decode(value)) == 32
        assert value not in result.stdout + result.stderr
    assert run(tmp_path, "secrets", "check").returncode == 0


def test_init_never_overwrites_existing_secrets(tmp_path):
    run(tmp_path, "secrets", "init")
    before = (tmp_path / "secrets.env").read_text()

    run(tmp_path, "secrets", "init")

    assert (tmp_path / "secrets.env").read_text() == before


def test_init_generates_nothing_when_the_environment_sets_the_secrets(tmp_path):
    result = run(tmp_path, "secrets", "init", env={name: strong() for name in SECRET_NAMES})
    assert result.returncode == 0 and not (tmp_path / "secrets.env").exists()


@pytest.mark.parametrize(("value", "reason"), [
    (None, "is not set"),
    ("c2hvcnQ=", "too short"),
    ("not base64 at all!", "not valid base64"),
])
@pytest.mark.parametrize("name", SECRET_NAMES)
def test_serve_stops_with_a_message_naming_a_missing_or_weak_secret(tmp_path, name, value, reason):
    env = {other: strong() for other in SECRET_NAMES if other != name}
    if value is not None:
        env[name] = value

    result = run(tmp_path, "serve", "--port", "1", env=env)

    assert result.returncode == 1
    assert name in result.stderr and reason in result.stderr
    assert "Traceback" not in result.stderr
    for secret in env.values():
        assert secret not in result.stderr + result.stdout
