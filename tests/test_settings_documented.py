"""`.env.example` documents every setting the code reads: each field of `Settings`, and every
`STRONGROOM_*` variable (or DATABASE_URL) that any module of api/ or gui/ names, and nothing that is none."""

import re
from pathlib import Path

from api.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
NAMED = re.compile(r"\b(STRONGROOM_[A-Z0-9_]*[A-Z0-9]|DATABASE_URL)\b")


def documented() -> set[str]:
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))


def setting_names() -> set[str]:
    names = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        names.add(alias if isinstance(alias, str) else f"STRONGROOM_{name.upper()}")
    return names


def test_every_setting_is_in_env_example():
    assert setting_names() - documented() == set()


def test_every_variable_the_code_names_is_in_env_example():
    named = {name for folder in ("api", "gui") for path in (ROOT / folder).rglob("*.py")
             for name in NAMED.findall(path.read_text())}
    assert named - documented() == set()


def test_env_example_names_nothing_the_code_does_not_read():
    named = {name for folder in ("api", "gui") for path in (ROOT / folder).rglob("*.py")
             for name in NAMED.findall(path.read_text())}
    assert documented() - setting_names() - named == set()
