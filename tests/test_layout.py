"""The four programs in `api/` stay apart: the HTTP app never loads the embedded server's launcher, and the
command line reaches the desktop client only through its entry point (`python -m gui`). In the desktop
client every request takes the one path (`gui/requests.py`) and the main window only assembles."""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import api.cli
import api.http
import gui


def modules_loaded_by(modules: list[str], then: str = "") -> set[str]:
    """Every module a fresh interpreter holds after importing the modules and running `then`."""
    code = ("import importlib, json, sys\n"
            f"for name in {modules!r}: importlib.import_module(name)\n"
            f"{then}\n"
            "print(json.dumps(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(json.loads(out))


def every_module(package: object) -> list[str]:
    """The package's modules, but not `__main__` (importing it runs the program)."""
    found = pkgutil.walk_packages(package.__path__, package.__name__ + ".")  # type: ignore[attr-defined]
    return [info.name for info in found if not info.name.endswith(".__main__")]


def test_the_http_app_does_not_import_the_embedded_launcher() -> None:
    loaded = modules_loaded_by(every_module(api.http))

    assert "api.http.app" in loaded
    assert "api.postgres.embedded" not in loaded


def test_the_command_line_imports_nothing_of_the_gui() -> None:
    parse = "import api.cli; api.cli.build_parser().parse_args(['gui', '--api', 'http://127.0.0.1:1'])"
    loaded = modules_loaded_by(every_module(api.cli), then=parse)

    assert "api.cli.commands.gui" in loaded
    assert not {name for name in loaded if name == "gui" or name.startswith(("gui.", "tkinter"))}


def calls_in(path: Path) -> list[ast.Call]:
    return [node for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Call)]


def owner_name(call: ast.Call) -> str:
    """`worker` for `self.worker.submit(...)` or `worker.submit(...)`, else ""."""
    func = call.func
    if not isinstance(func, ast.Attribute):
        return ""
    owner = func.value
    return owner.attr if isinstance(owner, ast.Attribute) else owner.id if isinstance(owner, ast.Name) else ""


def test_every_request_of_the_desktop_client_takes_the_one_path() -> None:
    package = Path(gui.__file__).parent
    submitting = {path.relative_to(package).as_posix() for path in package.rglob("*.py")
                  for call in calls_in(path)
                  if isinstance(call.func, ast.Attribute) and call.func.attr == "submit"
                  and owner_name(call) == "worker"}

    assert submitting == {"requests.py"}


def test_the_desktop_clients_main_window_only_assembles_and_makes_no_request() -> None:
    app = Path(gui.__file__).parent / "app.py"
    requesting = [ast.unparse(call) for call in calls_in(app) if owner_name(call) in ("client", "requests")]

    assert requesting == []
