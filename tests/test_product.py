"""Strongroom as its users get it: a wheel built from this checkout, installed (not editable) into a fresh
virtualenv in a 0700 folder outside the checkout, runs `secrets init / db start / db migrate / serve` with
`/ready` 200 and opens `strongroom gui`; a tester's own suite (its own `tests/` package and conftest.py)
passes with the plugin from that wheel; and the same wheel works for an ordinary user in a 0700 home.

Slow (a virtualenv and a real install each), and still run in CI: they keep these promises true.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from api.postgres.embedded import EmbeddedServer, default_bindir
from api.testing.plugin import free_port

pytestmark = pytest.mark.slow

CHECKOUT = Path(__file__).resolve().parent.parent
TESTER_SUITE = CHECKOUT / "docs" / "examples" / "tester-suite"
ORDINARY_USER = "strongroom-tester"


@dataclass(frozen=True)
class Installed:
    folder: Path
    """A 0700 folder like `mktemp -d`: holds the checkout copy, the wheel and the virtualenv."""
    wheel: Path
    venv: Path

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment a new user has: none of this suite's settings, no virtualenv of ours on PATH."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("STRONGROOM_", "PYTEST", "VIRTUAL_ENV")) and k not in ("DATABASE_URL", "PYTHONPATH")}
    env["PATH"] = ":".join(p for p in env.get("PATH", "").split(":") if not p.startswith(str(CHECKOUT)))
    env.update(extra)
    return env


def as_user(user: str | None) -> dict:
    """Popen's arguments that run a child as `user` (None: as ourselves)."""
    if user is None:
        return {}
    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def run(argv: list[str], cwd: Path, env: dict[str, str], timeout: float = 600,
        user: str | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                            **as_user(user))
    assert result.returncode == 0, f"{' '.join(argv[-4:])} failed:\n{result.stdout}\n{result.stderr}"
    return result


def copy_checkout(target: Path) -> None:
    """The files a clone has (tracked and new, not ignored): what a fresh `git clone` would give."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=CHECKOUT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = CHECKOUT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def base_python() -> str:
    return getattr(sys, "_base_executable", sys.executable)


def make_venv(folder: Path, wheel: Path, env: dict[str, str], user: str | None = None,
              python: str | None = None) -> Path:
    venv = folder / "venv"
    run([python or base_python(), "-m", "venv", str(venv)], folder, env, user=user)
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", f"{wheel}[testing]"], folder, env,
        user=user)
    return venv


@pytest.fixture(scope="module")
def installed() -> Iterator[Installed]:
    folder = Path(tempfile.mkdtemp(prefix="strongroom-wheel-"))  # mode 0700, like /root or mktemp -d
    env = clean_env()
    try:
        copy_checkout(folder / "checkout")
        run([base_python(), "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(folder / "dist"),
             str(folder / "checkout")], folder, env)
        wheel = next((folder / "dist").glob("strongroom-*.whl"))
        yield Installed(folder=folder, wheel=wheel, venv=make_venv(folder, wheel, env))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_the_wheel_carries_sql_and_migrations_and_no_tests_package(installed):
    names = zipfile.ZipFile(installed.wheel).namelist()
    listed = subprocess.run([sys.executable, "-m", "zipfile", "-l", str(installed.wheel)], capture_output=True,
                            text=True, check=True).stdout

    assert any(n.startswith("api/postgres/sql/") and n.endswith(".sql") for n in names)
    assert any(n.startswith("api/postgres/migrations/") and n.endswith(".rollback.sql") for n in names)
    assert not [n for n in names if n.split("/")[0] == "tests"], "the wheel installs a package named tests"
    assert "api/postgres/sql/90_grants.sql" in listed
    # Every package of the checkout travels (pyproject lists them one by one).
    modules = {str(path.relative_to(CHECKOUT))
               for folder in ("api", "gui") for path in (CHECKOUT / folder).rglob("*.py")}
    assert sorted(modules - set(names)) == []


class Serving:
    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process, self.url = process, url

    def ready(self) -> httpx.Response:
        deadline = time.monotonic() + 60
        while True:
            try:
                return httpx.get(f"{self.url}/ready", timeout=5)
            except httpx.TransportError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"serve exited or never answered: {self.process.communicate()}") from None
                time.sleep(0.2)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def bring_up(strongroom: str, site: Path, env: dict[str, str], user: str | None = None) -> Serving:
    """What `make run` does, with the installed command, in a folder that is not a checkout."""
    run([strongroom, "secrets", "init"], site, env, user=user)
    started = run([strongroom, "db", "start"], site, env, user=user)
    assert "started" in started.stdout
    run([strongroom, "db", "migrate"], site, env, user=user)
    port = free_port()
    process = subprocess.Popen([strongroom, "serve", "--port", str(port)], cwd=site, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **as_user(user))
    return Serving(process, f"http://127.0.0.1:{port}")


def tear_down(strongroom: str, site: Path, env: dict[str, str], serving: Serving | None,
              user: str | None = None) -> None:
    if serving is not None:
        serving.stop()
    subprocess.run([strongroom, "db", "stop"], cwd=site, env=env, capture_output=True, timeout=120, **as_user(user))
    if user is None:
        EmbeddedServer(home=site / ".strongroom", port=1, bindir=default_bindir()).remove()


def test_the_installed_wheel_runs_from_a_0700_folder(installed):
    site = Path(tempfile.mkdtemp(prefix="strongroom-site-"))
    env = clean_env(STRONGROOM_PG_PORT=str(free_port()))
    strongroom = installed.bin("strongroom")
    serving = None
    try:
        where = run([installed.bin("python"), "-c", "import api; print(api.__file__)"], site, env).stdout
        assert str(installed.venv) in where and "checkout" not in where

        serving = bring_up(strongroom, site, env)
        ready = serving.ready()

        assert ready.status_code == 200, ready.text
        assert ready.json()["status"] == "ready"
        assert_gui_opens(strongroom, site, env, serving.url)
    finally:
        tear_down(strongroom, site, env, serving)
        shutil.rmtree(site, ignore_errors=True)


def assert_gui_opens(strongroom: str, site: Path, env: dict[str, str], url: str) -> None:
    """`strongroom gui` from the wheel opens its window (under Xvfb): the client and Tk import and run."""
    if shutil.which("Xvfb") is None or shutil.which("xdotool") is None:
        pytest.fail("Xvfb and xdotool are needed: run `make gui-deps`")
    from tests.gui.harness import virtual_display

    with virtual_display() as display:
        gui = subprocess.Popen([strongroom, "gui", "--api", url], cwd=site, env={**env, "DISPLAY": display},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            while not subprocess.run(["xdotool", "search", "--onlyvisible", "--name", "log in$"],
                                     env={**env, "DISPLAY": display}, capture_output=True).stdout.strip():
                assert gui.poll() is None, f"strongroom gui exited: {gui.communicate()}"
                assert time.monotonic() < deadline, "strongroom gui showed no login window"
                time.sleep(0.2)
        finally:
            gui.kill()
            gui.wait(10)


def write_minimal_tester_suite(folder: Path) -> None:
    """A tester's own layout, for when the project's example suite is not in this checkout."""
    (folder / "tests").mkdir(parents=True)
    (folder / "tests" / "__init__.py").write_text("")
    (folder / "tests" / "conftest.py").write_text('"""The tester\'s conftest; the plugin comes from the wheel."""\n')
    (folder / "tests" / "test_orders.py").write_text(
        "def test_a_fresh_database_has_no_orders(db):\n"
        "    assert db.execute('select count(*) from public.orders').fetchone() == (0,)\n\n\n"
        "def test_the_api_schema_offers_create_order(db):\n"
        "    assert db.execute(\"select to_regproc('api.create_order') is not null\").fetchone() == (True,)\n")


def test_a_testers_suite_with_its_own_tests_package_passes_with_the_plugin_from_the_wheel(installed):
    suite = installed.folder / "tester-suite"
    if TESTER_SUITE.is_dir():
        shutil.copytree(TESTER_SUITE, suite)
    else:
        write_minimal_tester_suite(suite)
    assert (suite / "tests" / "__init__.py").exists()

    result = subprocess.run([installed.bin("pytest"), "-q", "-p", "no:cacheprovider"], cwd=suite, env=clean_env(),
                            capture_output=True, text=True, timeout=600)

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert " passed" in result.stdout and "failed" not in result.stdout


def users_python(home: Path, user: pwd.struct_passwd) -> tuple[str, dict[str, str]]:
    """A Python 3.12+ the ordinary user may run: ours, or, when it lives where that user cannot go (a pyenv
    under /root), a copy of it in the user's own folder (its standard library, not its site-packages), as
    that user would have installed their own. Returns the interpreter and the environment it needs."""
    try:
        if subprocess.run([base_python(), "-c", "import venv, ensurepip"], capture_output=True,
                          **as_user(ORDINARY_USER)).returncode == 0:
            return base_python(), {}
    except PermissionError:
        pass
    prefix = Path(sys.base_prefix)
    copy = home / "python"
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    shutil.copytree(prefix, copy, symlinks=True,
                    ignore=lambda folder, names: [n for n in names if Path(folder).name == version
                                                  and n in ("test", "site-packages", "idlelib")])
    (copy / "lib" / version / "site-packages").mkdir(exist_ok=True)
    for path in [copy, *copy.rglob("*")]:
        os.lchown(path, user.pw_uid, user.pw_gid)
    return str(copy / "bin" / version), {"LD_LIBRARY_PATH": str(copy / "lib")}


@pytest.mark.skipif(os.geteuid() != 0, reason="making an ordinary user needs root; run as an ordinary user, "
                    "test_the_installed_wheel_runs_from_a_0700_folder already is that user's path")
def test_an_ordinary_user_installs_and_runs_the_wheel_in_their_own_0700_folder(installed):
    try:
        user = pwd.getpwnam(ORDINARY_USER)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", ORDINARY_USER], check=True)
        user = pwd.getpwnam(ORDINARY_USER)
    home = Path(tempfile.mkdtemp(prefix="strongroom-user-"))
    os.chown(home, user.pw_uid, user.pw_gid)
    assert home.stat().st_mode & 0o777 == 0o700
    python, extra = users_python(home, user)
    wheel = home / installed.wheel.name
    shutil.copy2(installed.wheel, wheel)
    os.chown(wheel, user.pw_uid, user.pw_gid)
    env = clean_env(HOME=user.pw_dir, USER=ORDINARY_USER, STRONGROOM_PG_PORT=str(free_port()), **extra)
    serving = None
    strongroom = str(home / "venv" / "bin" / "strongroom")
    try:
        make_venv(home, wheel, env, user=ORDINARY_USER, python=python)
        serving = bring_up(strongroom, home, env, user=ORDINARY_USER)

        ready = serving.ready()

        assert ready.status_code == 200, ready.text
        assert (home / ".strongroom" / "pgdata").stat().st_uid == user.pw_uid  # in the user's own folder
    finally:
        tear_down(strongroom, home, env, serving, user=ORDINARY_USER)
        shutil.rmtree(home, ignore_errors=True)


def test_the_dockerfile_installs_the_wheel_without_tests_or_gui():
    """No docker engine runs here, so the file is read: what it copies and what it installs."""
    lines = [line.strip() for line in (CHECKOUT / "Dockerfile").read_text().splitlines()]
    copied = [line.split()[1] for line in lines if line.startswith("COPY ") and "--from" not in line]

    assert "tests" not in copied and not any(c.startswith("tests") for c in copied)
    assert any("pip wheel" in line for line in lines)
    assert any("pip install" in line and ".whl" in line for line in lines)
    assert not any("pip install" in line and " -e " in line for line in lines)
    assert any("shutil.rmtree" in line and "gui" in line for line in lines)  # the desktop client is dropped
    assert "tests" in (CHECKOUT / ".dockerignore").read_text().split()
