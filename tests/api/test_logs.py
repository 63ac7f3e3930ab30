"""The event log over HTTP: own events for users, all for admins and auditors; clients add their own."""

from __future__ import annotations

import time
from collections.abc import Callable

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.settings import Settings
from tests.api.conftest import bearer, login


def test_a_client_event_is_recorded_and_listed_to_its_user(client: TestClient, user: Callable) -> None:
    alice = user("alice")

    added = client.post("/logs", json={"component": "gui", "message": "form opened"}, headers=alice)
    events = client.get("/logs", params={"component": "client:gui"}, headers=alice).json()["items"]

    assert added.status_code == 204
    assert [e["message"] for e in events] == ["form opened"]


def test_a_user_sees_only_their_own_events_and_an_admin_sees_all(client: TestClient, user: Callable,
                                                                 admin: dict[str, str]) -> None:
    alice, bob = user("alice"), user("bob")
    client.post("/logs", json={"component": "gui", "message": "alice was here"}, headers=alice)

    bobs = client.get("/logs", params={"limit": 200}, headers=bob).text
    admins = client.get("/logs", params={"limit": 200}, headers=admin).text

    assert "alice was here" not in bobs and "alice was here" in admins


def test_an_auditor_reads_every_event_but_writes_no_order(client: TestClient, user: Callable,
                                                         db: psycopg.Connection) -> None:
    alice = user("alice")
    client.post("/logs", json={"component": "gui", "message": "alice was here"}, headers=alice)
    user("dba")
    db.execute("update public.users set role = 'auditor' where username = 'dba'")
    auditor = bearer(login(client, "dba"))

    assert "alice was here" in client.get("/logs", params={"limit": 200}, headers=auditor).text
    assert client.post("/orders", json={"description": "x"}, headers=auditor).status_code == 403


def test_logs_are_paginated_newest_first(client: TestClient, user: Callable) -> None:
    alice = user("alice")
    for i in range(3):
        client.post("/logs", json={"component": "gui", "message": f"event {i}"}, headers=alice)

    first = client.get("/logs", params={"limit": 2, "component": "client:gui"}, headers=alice).json()
    second = client.get("/logs", params={"limit": 2, "component": "client:gui", "cursor": first["next"]},
                        headers=alice).json()

    assert [e["message"] for e in first["items"] + second["items"]] == ["event 2", "event 1", "event 0"]


def test_logs_can_be_filtered_by_time(client: TestClient, user: Callable) -> None:
    alice = user("alice")
    client.post("/logs", json={"component": "gui", "message": "old"}, headers=alice)
    response = client.get("/logs", params={"since": "2999-01-01T00:00:00Z"}, headers=alice)
    assert response.status_code == 200 and response.json()["items"] == []


@pytest.mark.parametrize("body", [
    {"component": "gui", "message": "x" * 2001},
    {"component": "gui", "message": "nul\u0000"},
    {"component": "gui", "message": "m", "user_id": 1},
    {"component": 3, "message": "m"},
    {"component": "gui", "message": "m", "details": {"key": "nul \u0000 inside json"}},
])
def test_bad_event_input_is_422(client: TestClient, user: Callable, body: dict) -> None:
    assert client.post("/logs", json=body, headers=user("alice")).status_code == 422


def test_a_client_component_of_43_characters_is_recorded_and_44_are_refused_before_the_database(
        client: TestClient, user: Callable) -> None:
    alice = user("alice")

    fits = client.post("/logs", json={"component": "c" * 43, "message": "m"}, headers=alice)
    too_long = client.post("/logs", json={"component": "c" * 44, "message": "m"}, headers=alice)

    assert fits.status_code == 204
    assert too_long.status_code == 422
    assert too_long.json()["code"] == "invalid_request"
    assert [(e["loc"], e["type"]) for e in too_long.json()["errors"]] == [(["body", "component"], "string_too_long")]


def test_api_calls_reach_the_audit_log_with_their_request_id(make_client: Callable[..., TestClient],
                                                            db: psycopg.Connection) -> None:
    client = make_client(audit_seal_seconds=0.2)
    client.post("/register", json={"username": "alice", "password": "correct horse battery staple"},
                headers={"X-Request-ID": "call-record-0001"})

    rows: list[tuple] = []
    for _ in range(100):  # the housekeeping task flushes every 0.2 s; wait for its first flush
        rows = db.execute("select details->>'route', details->>'status' from public.logs"
                          " where action = 'api_call' and client_request_id = 'call-record-0001'").fetchall()
        if rows:
            break
        time.sleep(0.1)
    assert rows == [("/register", "201")]


def test_a_lone_surrogate_in_json_text_is_422(client: TestClient, user: Callable) -> None:
    body = b'{"component": "gui", "message": "lone surrogate \\ud800"}'
    response = client.post("/logs", content=body, headers={**user("alice"), "Content-Type": "application/json"})
    assert response.status_code == 422 and response.json()["code"] in ("invalid_request", "invalid_text")


def wait_for(db: psycopg.Connection, sql: str, params: list[object]) -> list[tuple]:
    """Poll until the query returns rows (the housekeeping task works in the background), or give up."""
    rows: list[tuple] = []
    for _ in range(100):
        rows = db.execute(sql, params).fetchall()
        if rows:
            break
        time.sleep(0.1)
    return rows


# Found by the X-Request-Id the test sent, which the rows keep as the client's (the request id is ours).
CALL_ROWS = "select details->>'route' from public.logs where action = 'api_call' and client_request_id = %s"


def test_the_housekeeping_task_seals_the_audit_log(make_client: Callable[..., TestClient],
                                                   db: psycopg.Connection) -> None:
    client = make_client(audit_seal_seconds=0.2)
    client.get("/orders", headers={"X-Request-ID": "seal-me-0001"})

    assert wait_for(db, CALL_ROWS, ["seal-me-0001"]) == [("/orders",)]
    sealed = wait_for(db, "select b.id from audit.seal_blocks b join public.logs l on l.txid >= b.xid_from"
                      " and l.txid < b.xid_to and b.log_table = 'logs' where l.client_request_id = %s",
                      ["seal-me-0001"])
    assert len(sealed) == 1
    assert db.execute("select ok from audit.verify()").fetchone() == (True,)


def test_calls_still_buffered_at_shutdown_are_recorded(api_settings: Settings, db: psycopg.Connection) -> None:
    # The housekeeping task never runs in this test's lifetime: only the shutdown flush can record the call.
    with TestClient(create_app(api_settings.model_copy(update={"audit_seal_seconds": 3600}))) as client:
        client.get("/orders", headers={"X-Request-ID": "at-shutdown-0001"})
        assert db.execute(CALL_ROWS, ["at-shutdown-0001"]).fetchall() == []

    assert db.execute(CALL_ROWS, ["at-shutdown-0001"]).fetchall() == [("/orders",)]


def test_a_batch_the_database_did_not_take_stays_buffered_and_is_recorded_later(
        make_client: Callable[..., TestClient], db: psycopg.Connection) -> None:
    db.execute("revoke execute on function audit.record_api_calls(jsonb) from strongroom_authenticator")
    client = make_client(audit_seal_seconds=0.2)
    client.get("/orders", headers={"X-Request-ID": "kept-0001"})
    time.sleep(1.0)  # several flushes fail meanwhile
    assert db.execute(CALL_ROWS, ["kept-0001"]).fetchall() == []

    db.execute("grant execute on function audit.record_api_calls(jsonb) to strongroom_authenticator")

    assert wait_for(db, CALL_ROWS, ["kept-0001"]) == [("/orders",)]


@pytest.mark.parametrize("message", ["forged\nsecond line", "clear \x1b[2J screen", "c1 \x9b csi", "del \x7f"])
def test_a_client_event_with_control_characters_is_refused_and_logs_nothing(client: TestClient, user: Callable,
                                                                            db: psycopg.Connection,
                                                                            message: str) -> None:
    alice = user("alice")
    refused = client.post("/logs", json={"component": "gui", "message": message}, headers=alice)
    assert refused.status_code == 422 and refused.json()["code"] == "control_characters"
    assert db.execute("select count(*) from public.logs where action = 'client_event'").fetchone() == (0,)
    tab = client.post("/logs", json={"component": "gui", "message": "a\ttab is fine"}, headers=alice)
    assert tab.status_code == 204
