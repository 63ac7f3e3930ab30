"""/docs on a network with no route out: Swagger UI's files come from this server, the page's policy allows
nothing else, and a real headless Chromium that can reach nothing but loopback shows the operations and the
Authorize button."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile

import pytest
from fastapi.testclient import TestClient


def test_the_docs_page_loads_every_asset_from_this_server(client: TestClient) -> None:
    page = client.get("/docs")
    sources = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)

    assert page.status_code == 200 and sources
    assert all(source.startswith("/docs/assets/") for source in sources), sources
    for source in sources:
        asset = client.get(source)
        assert asset.status_code == 200 and len(asset.content) > 1000, source
    assert client.get("/docs/assets/swagger-ui-bundle.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/docs/assets/swagger-ui.css").headers["content-type"].startswith("text/css")


def test_only_the_listed_assets_are_served(client: TestClient) -> None:
    assert client.get("/docs/assets/core.py").status_code == 404
    assert client.get("/docs/assets/..%2F..%2Fsettings.py").status_code == 404


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("the /docs test needs Debian's chromium: run `make gui-deps` (apt-get install chromium)")
    return found


@pytest.mark.slow
def test_swagger_ui_renders_in_chromium_with_no_route_out(live_api) -> None:
    api = live_api()
    with tempfile.TemporaryDirectory(prefix="strongroom-chromium-") as profile:
        rendered = subprocess.run(
            [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             f"--user-data-dir={profile}",
             # No route out: every name but loopback fails to resolve, and anything else would go to a dead proxy.
             "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--proxy-server=http://127.0.0.1:9",
             "--virtual-time-budget=20000", "--dump-dom", f"{api.base}/docs"],
            capture_output=True, text=True, timeout=180)

    dom = rendered.stdout
    assert rendered.returncode == 0, rendered.stderr[-2000:]
    assert 'class="btn authorize' in dom, dom[-2000:]
    operations = re.findall(r'class="opblock opblock-(get|post|put|patch|delete)', dom)
    assert len(operations) >= 10 and {"get", "post"} <= set(operations)
    assert "/orders" in dom and "/login" in dom
