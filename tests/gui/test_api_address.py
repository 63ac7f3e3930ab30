"""`strongroom gui` finds the API that `strongroom serve` would serve with the same settings, or the one
STRONGROOM_API_URL names."""

import os
import subprocess
import sys

import pytest


def gui_url(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")}
    clean["STRONGROOM_HOME"] = "/nonexistent/strongroom-home"
    clean.update(env)
    return subprocess.run([sys.executable, "-c", "from gui.__main__ import api_url; print(api_url(None))"],
                          env=clean, capture_output=True, text=True, check=True).stdout.strip()


@pytest.mark.parametrize(("env", "expected"), [
    ({}, "http://127.0.0.1:8000"),
    ({"STRONGROOM_API_PORT": "9123"}, "http://127.0.0.1:9123"),
    ({"STRONGROOM_API_HOST": "0.0.0.0", "STRONGROOM_API_PORT": "9124"}, "http://127.0.0.1:9124"),
    ({"STRONGROOM_API_HOST": "strongroom.lan", "STRONGROOM_TLS_CERT_FILE": "/etc/strongroom/cert.pem",
      "STRONGROOM_TLS_KEY_FILE": "/etc/strongroom/key.pem"}, "https://strongroom.lan:8000"),
    ({"STRONGROOM_API_URL": "https://api.example.org/", "STRONGROOM_API_PORT": "9125"}, "https://api.example.org"),
])
def test_the_gui_connects_where_serve_listens(env, expected):
    assert gui_url(**env) == expected
