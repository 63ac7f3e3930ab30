"""The four programs in `api/` stay apart: the HTTP app never loads the embedded server's launcher, and the
command line reaches the desktop client only through its entry point (`python -m gui`)."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import api.cli
import api.http


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
