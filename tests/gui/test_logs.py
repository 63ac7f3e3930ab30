"""The Logs tab against the real API and database: newest first, level filter, auto-refresh, admins see all."""

from __future__ import annotations

from typing import Any

from tests.gui.harness import log_in
from tests.gui.realapi import PASSWORD, RealApi


def test_the_level_filter_shows_only_that_level_and_auto_refresh_brings_new_events(
        real_api: RealApi, open_app: Any) -> None:
    real_api.register("ana")
    tokens = real_api.tokens("ana")
    real_api.call("POST", "/logs", tokens, json={"level": "WARNING", "component": "scanner", "message": "paper jam"})
    app, robot = open_app(real_api.url)
    log_in(app, robot, "ana", PASSWORD)
    robot.key("ctrl+4")
    robot.wait(lambda: app.logs.table.rows(), "the events")
    everything = app.logs.table.rows()

    robot.click(app.logs.level)
    robot.key("Down", "Down", "Down", "Down", "Return")  # all, DEBUG, INFO, NOTICE, WARNING
    robot.wait(lambda: app.logs.level.get() == "WARNING" and app.worker.busy == 0, "the filtered list")
    warnings = app.logs.table.rows()
    robot.click(app.logs.auto_box)
    real_api.call("POST", "/logs", tokens, json={"level": "WARNING", "component": "scanner", "message": "toner low"})
    robot.wait(lambda: any(row[4] == "toner low" for row in app.logs.table.rows()), "the auto-refresh")

    assert {row[1] for row in everything} >= {"INFO", "WARNING"}
    assert [row[4] for row in warnings] == ["paper jam"]
    assert [row[4] for row in app.logs.table.rows()] == ["toner low", "paper jam"]  # newest first


def test_an_admin_sees_everyone_s_events(real_api: RealApi, open_app: Any,
                                                                   make_admin: Any) -> None:
    real_api.register("ana")
    real_api.register("root")
    make_admin("root")
    real_api.call("POST", "/logs", real_api.tokens("ana"), json={"component": "scanner", "message": "ana was here"})
    app, robot = open_app(real_api.url)
    log_in(app, robot, "root", PASSWORD)

    robot.key("ctrl+4")
    robot.wait(lambda: any(row[4] == "ana was here" for row in app.logs.table.rows()), "ana's event")

    assert str(app.logs.scope.cget("text")) == "Everyone's events"


def test_the_log_shows_names_hides_api_calls_unless_asked_and_filters_by_component_and_user(
        real_api: RealApi, open_app: Any, make_admin: Any) -> None:
    real_api.register("ana")
    real_api.register("root")
    make_admin("root")
    real_api.call("POST", "/logs", real_api.tokens("ana"), json={"component": "scanner", "message": "ana was here"})
    app, robot = open_app(real_api.url)
    log_in(app, robot, "root", PASSWORD)
    robot.key("ctrl+4")
    robot.wait(lambda: any(row[4] == "ana was here" for row in app.logs.table.rows()), "ana's event")
    default = app.logs.table.rows()

    robot.click(app.logs.api_calls_box)
    robot.click(app.logs.auto_box)  # the API writes its call records in batches, every few seconds
    robot.wait(lambda: any(row[2] == "api" for row in app.logs.table.rows()), "the API-call records")
    with_calls = app.logs.table.rows()
    robot.click(app.logs.auto_box)
    robot.click(app.logs.api_calls_box)
    robot.type(app.logs.user, "ana")
    robot.key("Return")
    robot.wait(lambda: app.logs.table.rows() and {row[3] for row in app.logs.table.rows()} == {"ana"}, "ana's rows")
    anas = app.logs.table.rows()
    robot.click(app.logs.component)
    robot.key("Down", "Down", "Return")  # all, client:gui, auth
    robot.wait(lambda: app.logs.component.get() == "auth" and app.worker.busy == 0, "ana's sign-in events")
    anas_auth = app.logs.table.rows()

    assert not any(row[2] == "api" for row in default)
    assert [row[3] for row in default if row[4] == "ana was here"] == ["ana"]  # a name, not an id
    assert sum(1 for row in default if row[4] == "login" and row[3] == "root") == 1  # once, not twice
    assert any(row[2] == "api" for row in with_calls)
    assert "ana was here" in {row[4] for row in anas}
    assert anas_auth and {row[2] for row in anas_auth} == {"auth"}
