"""What a client writing against /openapi.json alone may rely on, checked by walking the document.

A new route or field is covered the day it appears: every list is a page `{items, next}` with a nullable
`next`, `details` is an object everywhere, every field and parameter says what it is, the closed sets are
enums equal to their home in SQL, and a resource's request fields come back under the same names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any, get_args

import psycopg
import pytest

from api import rules
from api.http.models import ClientLevel, OrderStatus, Role

# Tags whose request bodies describe the resource the responses return (accounts and keys take commands:
# a password, a batch size).
RESOURCES = ("orders", "entries", "passwords", "logs", "users")
# Names a field must not have: each is another route's word for a field that already has a name.
SYNONYMS = {"site": "website", "login": "username", "secret": "password"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    """What /openapi.json serves (built from the code: no database needed)."""
    from api.http.app import app

    return json.loads(json.dumps(app.openapi()))


def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            yield method.upper(), path, op


def json_schema(doc: dict[str, Any], content: dict[str, Any] | None) -> dict[str, Any] | None:
    media = (content or {}).get("application/json")
    return resolve(doc, media["schema"]) if media and "schema" in media else None


def properties(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A schema's properties, and those of the items of a page (a list route answers its items' fields)."""
    props = dict(schema.get("properties", {}))
    items = props.get("items", {}).get("items")
    if items:
        props.update(resolve(doc, items).get("properties", {}))
    return props


def variants(prop: dict[str, Any]) -> list[dict[str, Any]]:
    return prop.get("anyOf", [prop])


def test_every_answer_is_an_object_and_every_list_is_a_page_with_a_nullable_next(document: dict) -> None:
    for method, path, op in operations(document):
        if "operations" in op.get("tags", []):
            continue
        for status, answer in op["responses"].items():
            schema = json_schema(document, answer.get("content")) if status.startswith("2") else None
            if schema is None:
                continue
            assert schema.get("type") == "object", f"{method} {path} answers a {schema.get('type')}"
            props = schema.get("properties", {})
            if "items" in props:
                assert props["items"]["type"] == "array" and "next" in schema["required"], (method, path)
                assert {v.get("type") for v in variants(props["next"])} == {"integer", "null"}, (method, path)


def test_details_is_an_object_wherever_it_appears(document: dict) -> None:
    for name, schema in document["components"]["schemas"].items():
        if "details" in schema.get("properties", {}):
            kinds = {v.get("type") for v in variants(schema["properties"]["details"])}
            assert kinds <= {"object", "null"} and "object" in kinds, name


def test_every_field_and_parameter_is_described(document: dict) -> None:
    undescribed = [f"{name}.{field}" for name, schema in document["components"]["schemas"].items()
                   for field, prop in schema.get("properties", {}).items() if not prop.get("description")]
    undescribed += [f"{method} {path} ?{p['name']}" for method, path, op in operations(document)
                    for p in op.get("parameters", []) if not p.get("description")]
    assert undescribed == []


def test_statuses_roles_and_levels_are_enums(document: dict) -> None:
    plain = []
    for name, schema in document["components"]["schemas"].items():
        if name == "Problem":  # its "status" is the HTTP status code
            continue
        for field in ("status", "role", "level", "state"):
            prop = schema.get("properties", {}).get(field)
            if prop is not None and name not in ("Event",):  # logs rows a DBA wrote may hold any level
                if not any("enum" in v for v in variants(prop)):
                    plain.append(f"{name}.{field}")
    plain += [f"{method} {path} ?{p['name']}" for method, path, op in operations(document)
              for p in op.get("parameters", []) if p["name"] in ("status", "level")
              and not any("enum" in v for v in variants(p["schema"]))]
    assert plain == []


def test_a_resource_takes_and_returns_each_field_under_one_name(document: dict) -> None:
    for tag in RESOURCES:
        ops = [(m, p, op) for m, p, op in operations(document) if tag in op.get("tags", [])]
        answered: set[str] = set()
        for _, _, op in ops:
            for status, answer in op["responses"].items():
                schema = json_schema(document, answer.get("content")) if status.startswith("2") else None
                answered |= set(properties(document, schema)) if schema else set()
        for method, path, op in ops:
            body = json_schema(document, op.get("requestBody", {}).get("content"))
            taken = set(body.get("properties", {})) if body else set()
            assert taken <= answered, f"{method} {path} takes {sorted(taken - answered)} that no {tag} answer has"
    names = {field for schema in document["components"]["schemas"].values() for field in schema.get("properties", {})}
    assert not names & set(SYNONYMS), {n: SYNONYMS[n] for n in names & set(SYNONYMS)}


def test_the_enums_are_the_lists_the_database_enforces(db: psycopg.Connection) -> None:
    """Statuses and roles come from api/rules.py (pinned to SQL by tests/test_rules.py); the levels here."""
    levels = db.execute("select prosrc from pg_proc where oid = 'api.log_client_event'::regproc").fetchone()[0]
    level_check = re.search(r"not in \(([^)]*)\)", levels)

    assert get_args(OrderStatus) == rules.ORDER_STATUSES and get_args(Role) == rules.ROLES
    assert level_check is not None
    assert set(re.findall(r"'([A-Z]+)'", level_check.group(1))) == set(get_args(ClientLevel))


def _bare_times(annotation: Any, metadata: list[Any]) -> bool:
    """Whether a datetime in this annotation is not a UtcTime (its value would be written without a zone)."""
    from typing import Annotated, get_origin

    from pydantic.functional_validators import AfterValidator

    from api.http.models import UtcTime

    utc = next(m for m in get_args(UtcTime)[1:] if isinstance(m, AfterValidator))
    if get_origin(annotation) is Annotated:
        base, *extra = get_args(annotation)
        return _bare_times(base, [*metadata, *extra])
    if annotation is datetime:
        return utc not in metadata
    return any(_bare_times(arg, []) for arg in get_args(annotation))


def test_every_time_in_a_response_is_a_utc_time() -> None:
    """A naive time from SQL is UTC; only UtcTime fields say so ("...Z"), so every response field is one."""
    from api.http.app import app  # noqa: F401 - every route module, so every response model, is imported
    from api.http.models import Out

    models, pending = [], [Out]
    while pending:
        model = pending.pop()
        models.append(model)
        pending += model.__subclasses__()
    bare = [f"{model.__name__}.{name}" for model in models for name, field in model.model_fields.items()
            if _bare_times(field.annotation, field.metadata)]
    with_times = [m for m in models if any("datetime" in str(f.annotation) for f in m.model_fields.values())]

    assert with_times, "no response model has a time field: the check sees nothing"
    assert bare == []
