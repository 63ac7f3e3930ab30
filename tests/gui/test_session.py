"""Logging in, registering, and a session that runs out or is revoked: against the real API and database."""

from __future__ import annotations

from typing import Any

import psycopg

from tests.gui.harness import log_in
from tests.gui.realapi import PASSWORD, RealApi


def test_a_wrong_password_and_an_unreachable_server_read_differently(real_api: RealApi, open_app: Any) -> None:
    real_api.register("ana")
    app, robot = open_app(real_api.url)
    dialog = app.login_dialog
    robot.type(dialog.username, "ana")
    robot.type(dialog.password.entry, "not the password")
    robot.key("Return")
    robot.wait(lambda: dialog.message.text, "the refusal")
    wrong = dialog.message.text

    real_api.stop()
    robot.key("Return")
    robot.wait(lambda: dialog.message.text not in ("", wrong), "the second refusal")

    assert wrong == "Wrong username or password."
    assert dialog.message.text.startswith("Server unreachable")
    assert dialog.username.get_value() == "ana" and dialog.password.get_value() == "not the password"


def test_a_locked_account_is_told_when_the_lock_ends(real_api: RealApi, open_app: Any,
                                                     db: psycopg.Connection) -> None:
    real_api.register("ana")
    db.execute("select private.set_auth_settings(p_lockout_threshold => 1)")
    app, robot = open_app(real_api.url)
    dialog = app.login_dialog
    robot.type(dialog.username, "ana")
    robot.type(dialog.password.entry, "not the password")
    robot.key("Return")
    robot.wait(lambda: dialog.message.text, "the first refusal")

    robot.key("Return")
    robot.wait(lambda: "Try again after" in dialog.message.text, "the lockout message")

    assert "locked" in dialog.message.text


def test_registering_with_a_weak_password_shows_the_policy_inline(real_api: RealApi, open_app: Any) -> None:
    app, robot = open_app(real_api.url)
    dialog = app.login_dialog
    robot.type(dialog.username, "bruno")
    robot.type(dialog.password.entry, "short")

    robot.click(dialog.register_button)
    robot.wait(lambda: dialog.message.text, "the policy message")
    refusal = dialog.message.text
    robot.type(dialog.password.entry, " but now long enough to pass")
    robot.click(dialog.register_button)
    robot.wait(lambda: app.me.get("username") == "bruno", "the new account's session")

    assert "at least 12" in refusal
    assert app.status.user.cget("text") == "User: bruno"


def test_an_expiring_token_is_refreshed_silently(real_api: RealApi, open_app: Any) -> None:
    real_api.register("ana")
    app, robot = open_app(real_api.url)
    log_in(app, robot, "ana", PASSWORD)
    first = app.client.session.access_token

    app.client.session.expires_at -= app.client.session.lifetime - 5  # as if the shift had gone on
    robot.wait(lambda: app.client.session is not None and app.client.session.access_token != first,
               "the silent refresh")
    robot.key("F5")
    robot.wait(lambda: app.worker.busy == 0, "the refresh of the orders with the new token")

    assert not app.login_dialog.shown
    assert app.orders.message.text == ""
    assert "expires in 1" in str(app.status.token.cget("text")) or app.client.session.seconds_left > 60


def test_a_revoked_session_brings_the_login_back_and_keeps_the_typed_order(
        real_api: RealApi, open_app: Any, db: psycopg.Connection) -> None:
    real_api.register("ana")
    app, robot = open_app(real_api.url)
    log_in(app, robot, "ana", PASSWORD)
    robot.type(app.orders.description, "typed before the revocation")
    robot.click(app.orders.encrypt_box)
    elsewhere = real_api.tokens("ana")
    assert real_api.call("POST", "/logout/all", elsewhere).status_code == 204  # "log out everywhere"

    robot.click(app.orders.submit)
    robot.wait(lambda: app.login_dialog.shown, "the login dialog to come back")
    kept = app.orders.form()
    robot.type(app.login_dialog.password.entry, PASSWORD)
    robot.key("Return")
    robot.wait(lambda: not app.login_dialog.shown, "the second login")
    robot.click(app.orders.submit)
    robot.wait(lambda: app.orders.table.rows(), "the order")

    assert kept == {"description": "typed before the revocation", "status": "pending", "encrypt": True}
    assert db.execute("select count(*), bool_and(sensitive) from public.orders").fetchone() == (1, True)


def test_only_an_admin_sees_the_admin_tab(real_api: RealApi, open_app: Any, make_admin: Any) -> None:
    real_api.register("ana")
    real_api.register("root")
    make_admin("root")
    app, robot = open_app(real_api.url)
    log_in(app, robot, "ana", PASSWORD)
    as_user = [app.notebook.tab(t, "text") for t in app.notebook.tabs()]

    robot.key("ctrl+l")
    robot.wait(lambda: app.login_dialog.shown, "the login dialog after logging out")
    log_in(app, robot, "root", PASSWORD)
    as_admin = [app.notebook.tab(t, "text") for t in app.notebook.tabs()]

    assert as_user == ["Orders", "Notes", "Passwords", "Logs"]
    assert as_admin == ["Orders", "Notes", "Passwords", "Logs", "Admin"]


def test_after_logout_the_next_user_sees_nothing_of_the_previous_one(real_api: RealApi, open_app: Any) -> None:
    real_api.register("ana")
    real_api.register("ben")
    app, robot = open_app(real_api.url)
    log_in(app, robot, "ana", PASSWORD)
    robot.key("ctrl+3")
    p = app.passwords
    robot.type(p.site, "ana.example")
    robot.type(p.login, "ana@ana.example")
    robot.type(p.lookup_site, "nothing.example")
    robot.key("Return")
    robot.wait(lambda: p.message.text, "the miss")
    robot.key("ctrl+2")
    robot.type(app.entries.title, "ana's plans")
    robot.click(app.entries.save)
    robot.wait(lambda: app.entries.message.text and app.entries.table.rows(), "the saved note")
    robot.key("ctrl+1")
    robot.type(app.orders.description, "ana's half-typed order")
    before = (p.site.get_value(), app.entries.message.text, app.orders.description.get_value())

    robot.key("ctrl+l")
    robot.wait(lambda: app.login_dialog.winfo_viewable(), "the login dialog")
    log_in(app, robot, "ben", PASSWORD)
    robot.wait(lambda: app.worker.busy == 0, "ben's lists")

    assert all(before)
    assert (p.site.get_value(), p.login.get_value(), p.lookup_site.get_value(), p.message.text) == ("", "", "", "")
    assert p.table.rows() == [] and app.entries.table.rows() == []
    assert (app.entries.title.get_value(), app.entries.message.text) == ("", "")
    assert (app.orders.description.get_value(), app.orders.message.text) == ("", "")


def test_registering_takes_an_e_mail_address(real_api: RealApi, open_app: Any, db: psycopg.Connection) -> None:
    app, robot = open_app(real_api.url)
    dialog = app.login_dialog
    robot.type(dialog.username, "carla")
    robot.type(dialog.password.entry, "a long enough passphrase")
    robot.type(dialog.email, "carla@example.org")

    robot.click(dialog.register_button)
    robot.wait(lambda: app.me.get("username") == "carla", "the new account's session")

    assert db.execute("select email from public.users where username = 'carla'").fetchone() == ("carla@example.org",)
    assert app.me.get("email") == "carla@example.org"
