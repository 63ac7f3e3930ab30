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
    robot.key("Down", "Down", "Down", "Return")  # all, DEBUG, INFO, WARNING
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
