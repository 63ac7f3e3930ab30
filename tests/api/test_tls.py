"""HTTPS end to end: `strongroom tls self-signed` makes a pair and prints its fingerprint, `strongroom serve`
speaks TLS with it (a real uvicorn), and the real client verifies the server through a CA file or a pinned
fingerprint, refusing a wrong certificate with a sentence that says what to set. HSTS is sent on HTTPS only,
and X-Forwarded-* count only from a trusted proxy."""

from __future__ import annotations

import os
import re
import shutil
import ssl
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg
import pytest

from api import tls
from api.client import ApiClient, UntrustedServer


def strongroom(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "api.cli", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> tuple[Path, Path, str]:
    folder = tmp_path_factory.mktemp("tls")
    made = strongroom("tls", "self-signed", "--out", str(folder), "--host", "strongroom.lan")
    assert made.returncode == 0, made.stderr
    printed = re.search(r"SHA-256 fingerprint: ([0-9A-F:]{95})", made.stdout)
    assert printed is not None, made.stdout
    return folder / "cert.pem", folder / "key.pem", printed.group(1)


@pytest.fixture
def https_api(serve_api: Callable[..., str], pair) -> Callable[..., str]:
    """`https_api(tls=True, **settings)`: `strongroom serve` over TLS with the pair (unless tls=False); its URL."""
    return lambda tls=True, **extra: serve_api(pair[:2] if tls else None, **extra)


def test_self_signed_writes_a_private_key_and_prints_the_certificates_fingerprint(pair):
    cert, key, printed = pair

    assert key.stat().st_mode & 0o777 == 0o600
    assert printed == tls.fingerprint(cert.read_text())
    if shutil.which("openssl"):
        openssl = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-fingerprint", "-sha256"],
                                 capture_output=True, text=True, check=True).stdout
        assert openssl.strip().endswith(printed)


def test_serve_speaks_https_and_sends_hsts(https_api, pair):
    url = https_api()

    response = httpx.get(f"{url}/health", verify=ssl.create_default_context(cafile=str(pair[0])))

    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert response.headers["strict-transport-security"].startswith("max-age=")
    assert response.url.scheme == "https"


def test_the_client_verifies_the_server_with_a_ca_file(https_api, pair):
    url = https_api()
    with ApiClient(url, ca_file=pair[0]) as client:
        assert client.health() == {"status": "ok"}


def test_the_client_verifies_the_server_with_a_pinned_fingerprint(https_api, pair):
    url = https_api()
    with ApiClient(url, fingerprint=pair[2].replace(":", "").lower()) as client:
        assert client.health() == {"status": "ok"}


def test_a_wrong_pinned_fingerprint_is_refused_with_a_clear_message(https_api, pair):
    url = https_api()
    wrong = "AB:" * 31 + "AB"
    with ApiClient(url, fingerprint=wrong) as client, pytest.raises(UntrustedServer) as refused:
        client.health()

    message = str(refused.value)
    assert pair[2] in message and "not the pinned" in message and "STRONGROOM_API_FINGERPRINT" in message


def test_a_wrong_certificate_is_refused_with_a_clear_message(https_api, pair, tmp_path):
    """The client trusts one certificate; the server presents another (same names, another key)."""
    other_cert, _, _ = tls.write_pair(tmp_path / "other", ["strongroom.lan"])
    url = https_api()

    with ApiClient(url, ca_file=other_cert) as client, pytest.raises(UntrustedServer) as refused:
        client.health()

    message = str(refused.value)
    assert "does not trust" in message and "self-signed certificate" in message
    assert "STRONGROOM_API_CA_FILE" in message and "STRONGROOM_API_FINGERPRINT" in message


def test_without_a_ca_file_or_pin_the_system_store_refuses_a_self_signed_server(https_api):
    url = https_api()
    with ApiClient(url) as client, pytest.raises(UntrustedServer, match="self-signed certificate"):
        client.health()


def test_serve_refuses_a_certificate_without_its_key(pair):
    result = strongroom("serve", "--tls-cert", str(pair[0]))
    assert result.returncode != 0 and "STRONGROOM_TLS_KEY_FILE" in result.stderr and "Traceback" not in result.stderr


def _forwarded(base: str, db: psycopg.Connection, username: str) -> tuple[str | None, str | None]:
    """Register through the API as if via a proxy; return (client address the audit saw, HSTS header)."""
    response = httpx.post(f"{base}/register", json={"username": username, "password": "Correct-Horse-9-battery"},
                          headers={"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"})
    assert response.status_code == 201, response.text
    row = db.execute("select host(client_addr) from public.logs where request_id = %s limit 1",
                     [response.headers["x-request-id"]]).fetchone()
    return (row[0] if row else None), response.headers.get("strict-transport-security")


def test_forwarded_headers_count_only_from_a_trusted_proxy(https_api, db):
    trusted = https_api(tls=False, trusted_proxies='["127.0.0.1"]')
    untrusted = https_api(tls=False)

    assert _forwarded(trusted, db, "behind-proxy") == ("203.0.113.7", "max-age=31536000; includeSubDomains")
    address, hsts = _forwarded(untrusted, db, "no-proxy")
    assert address == "127.0.0.1" and hsts is None
