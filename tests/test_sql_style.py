"""The SQL conventions of CONTRIBUTING.md ("SQL style") that a reader relies on, checked over every sql/ file:
a security definer function says why on that line, and a function's locals are v_ (or c_ for constants),
so a bare name in a query is always a column."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from api.postgres.migrate import code_files

FILES = [pytest.param(path, id=path.name) for path in code_files()]


def bodies(text: str) -> list[str]:
    """The bodies between $$ quotes (functions, procedures and DO blocks)."""
    return text.split("$$")[1::2]


@pytest.mark.parametrize("path", FILES)
def test_every_security_definer_says_why_on_its_line(path: Path) -> None:
    text = path.read_text()
    bare = [line for line in text.splitlines() if re.match(r"\s*security definer\s*$", line)]
    inline = [line for line in text.splitlines() if re.search(r"\bsecurity definer set search_path\b", line)]
    in_body = [line for body in bodies(text) for line in body.splitlines()
               if re.match(r"\s*-- security definer:", line)]

    assert (bare, inline, in_body) == ([], [], [])


@pytest.mark.parametrize("path", FILES)
def test_every_local_is_named_v_or_c(path: Path) -> None:
    unprefixed = []
    for body in bodies(path.read_text()):
        declared = re.search(r"(?s)(?:^|\n)declare\n(.*?)\nbegin\n", body)
        for line in declared.group(1).splitlines() if declared else []:
            name = re.match(r"\s+(\w+)\s+[\w.]", line)
            if name and not line.strip().startswith("--") and not re.match(r"[vc]_", name.group(1)):
                unprefixed.append(line.strip())

    assert unprefixed == []
