"""`api.instance.Instance`: what `make run` does, from Python, in a folder of the caller's choice.

Real everything: the embedded PostgreSQL of the folder, the migrations, `strongroom serve` in a child process,
the first administrator through the real registration function.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from api import tls
from api.client import ApiClient, ApiError, ClientError
from api.instance import Instance
from api.postgres.embedded import embedded_server
from api.postgres.target import cluster_root
from api.settings import Settings

PASSWORD = "a long and private passphrase"


@pytest.fixture(autouse=True)
def _no_cluster_left_behind(tmp_path):
    """Run as root, an instance's cluster lives outside its folder (under /var/lib/strongroom): remove the
    ones these tests made, once they are stopped."""
    yield
    remove_clusters_of(tmp_path)


def remove_clusters_of(folder: Path) -> None:
    for home in [folder, *folder.rglob("*")]:
        root = cluster_root(home)
        if home.is_dir() and not root.is_relative_to(folder) and (root / "pgdata").is_dir():
            shutil.rmtree(root, ignore_errors=True)


def _refused(url: str) -> bool:
    try:
        httpx.get(f"{url}/health", timeout=2)
    except httpx.TransportError:
        return True
    return False


@pytest.mark.slow
def test_an_instance_comes_up_in_its_folder_and_stops_everything_on_exit(tmp_path):
    folder = tmp_path / "strongroom"
    with Instance(folder, admin_password=PASSWORD, say=lambda _line: None) as strongroom:
        url, settings = strongroom.url, strongroom.settings
        assert (folder / "secrets.env").stat().st_mode & 0o777 == 0o600
        api = strongroom.admin_client()
        assert api.me()["role"] == "admin"
        order = api.create_order("20 boxes of A4 paper", encrypt=True)
        events = strongroom.sql("select source, action from audit.order_history(%s)", (order["id"],))
        assert {"source": "order_logs", "action": "created"} in events
        assert strongroom.sql("select ok from audit.verify()") == [{"ok": True}]
        with pytest.raises(Exception, match="permission denied"):  # the auditor decrypts nothing
            strongroom.sql("select description from public.orders")
    assert _refused(url)
    assert not embedded_server(settings).running()

    # The same folder again: the same secrets and data, the administrator kept.
    with Instance(folder, admin_password=PASSWORD, say=lambda _line: None) as again:
        assert again.admin_client().get_order(order["id"])["description"] == "20 boxes of A4 paper"


@pytest.mark.slow
def test_a_kernel_killed_with_its_process_group_takes_the_api_and_postgresql_along(tmp_path):
    folder = tmp_path / "strongroom"
    kernel = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import time
            from api.instance import Instance
            strongroom = Instance({str(folder)!r}, admin_password={PASSWORD!r}, say=lambda _l: None).start()
            print(strongroom.url, strongroom.settings.pg_port, flush=True)
            time.sleep(600)
        """)], stdout=subprocess.PIPE, text=True, env=os.environ, start_new_session=True)
    url, pg_port = kernel.stdout.readline().split()
    assert httpx.get(f"{url}/ready", timeout=5).status_code == 200
    server = embedded_server(Settings(_env_file=None, home=folder, pg_port=int(pg_port), database_url=None))
    assert server.running()
    os.killpg(kernel.pid, signal.SIGKILL)  # what a kernel manager does: no exit handler runs
    kernel.wait(10)
    deadline = time.monotonic() + 60  # a guard against a hang, not a measure
    while not _refused(url) or server.pid() is not None:
        assert time.monotonic() < deadline, "the API or PostgreSQL outlived its kernel"
        time.sleep(0.1)
    with Instance(folder, admin_password=PASSWORD, say=lambda _line: None) as again:
        assert again.admin_client().me()["username"] == "admin"


def test_a_wrong_admin_password_for_an_existing_folder_is_refused_by_the_api(tmp_path):
    with Instance(tmp_path / "s", admin_password=PASSWORD, say=lambda _line: None) as strongroom:
        strongroom.admin_password = "not the password it was made with"
        with pytest.raises(ApiError) as raised:
            strongroom.admin_client()
        assert raised.value.status == 401


@pytest.mark.slow
def test_an_instance_with_tls_serves_https_that_only_its_pinning_client_trusts(tmp_path):
    with Instance(tmp_path / "s", admin_password=PASSWORD, tls=True, say=lambda _line: None) as strongroom:
        assert strongroom.url.startswith("https://")
        assert strongroom.fingerprint == tls.fingerprint((tmp_path / "s" / "tls" / "cert.pem").read_text())
        assert strongroom.admin_client().me()["username"] == "admin"
        with ApiClient(strongroom.url, retries=0) as stranger, pytest.raises(ClientError):  # the system store
            stranger.health()
