"""The forms on a long shift: Enter and Escape in dialogs, columns that fit, messages about the current state."""

from __future__ import annotations

from tkinter import font
from typing import Any

import psycopg

from tests.gui.harness import log_in
from tests.gui.realapi import PASSWORD, RealApi


def signed_in(real_api: RealApi, open_app: Any, username: str = "ana") -> tuple[Any, Any]:
    real_api.register(username)
    app, robot = open_app(real_api.url)
    log_in(app, robot, username, PASSWORD)
    return app, robot


def test_the_order_dialog_applies_with_enter_closes_with_escape_and_says_who(
        real_api: RealApi, open_app: Any, db: psycopg.Connection) -> None:
    app, robot = signed_in(real_api, open_app)
    robot.type(app.orders.description, "one order")
    robot.key("Return")
    robot.wait(lambda: app.orders.table.rows(), "the order")
    tree = app.orders.table.tree
    robot.double_click(tree, at=robot.cell(tree, tree.get_children()[0], "description"))
    robot.wait(lambda: app.order_dialog is not None and app.order_dialog.winfo_viewable(), "the order dialog")
    dialog = app.order_dialog
    dialog.status.set("cancelled")

    robot.key("Return")
    robot.wait(lambda: len(dialog.history.rows()) == 2, "the change in the history")
    history = dialog.history.rows()
    robot.key("Escape")
    robot.wait(lambda: app.order_dialog is None, "the dialog to close")

    assert db.execute("select status from public.orders").fetchone() == ("cancelled",)
    assert [row[1:3] for row in history] == [["ana", "created"], ["ana", "status_changed"]]
    assert app.orders.page_label.cget("text") == "Page 1 · 1 order"
    robot.wait(lambda: app.status.token.cget("text") == "Session active", "the session in the status bar")


def test_a_look_up_says_only_what_it_found_and_columns_fit_their_content(real_api: RealApi, open_app: Any) -> None:
    app, robot = signed_in(real_api, open_app)
    robot.key("ctrl+3")
    p = app.passwords
    site = "https://intranet.example.com/a/rather/long/login/path"
    robot.type(p.site, site)
    robot.type(p.login, "ana.operator@intranet.example.com")
    robot.type(p.password.entry, "pw-for-the-intranet")
    robot.click(p.save)
    robot.wait(lambda: p.message.text.startswith("Saved") and p.table.rows(), "the save")
    robot.type(p.lookup_site, site)
    robot.key("Return")
    robot.wait(lambda: not p.message.text.startswith("Saved") and p.message.text, "the look-up")
    found = (p.message.text, p.table.rows())
    shown = p.table.tree.column("site", "width"), p.table.tree.column("login", "width")

    p.lookup_site.set_value("")
    robot.type(p.lookup_site, "nowhere.example")
    robot.key("Return")
    robot.wait(lambda: p.table.rows() == [], "the miss to clear the previous result")

    measure = font.nametofont("TkDefaultFont").measure
    assert found[0] == f"1 login saved for {site}." and [row[0] for row in found[1]] == [site]
    assert shown[0] >= measure(site) and shown[1] >= measure("ana.operator@intranet.example.com")
    assert "nothing saved" in p.message.text.lower()
