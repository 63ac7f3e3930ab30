"""The Orders tab when the server misbehaves: held open, gone, slow to answer, or ending the session.

These run against the small stand-in server (tests/gui/standin.py), which can be told to misbehave; what
they prove is the window's behaviour, not the API's (the tests against the real API do that).
"""

from __future__ import annotations

from typing import Any

import pytest

from api.client import ApiClient
from tests.gui.harness import log_in
from tests.gui.standin import StandIn


@pytest.fixture
def standin(serve: Any) -> Any:
    state = StandIn()
    state.server = serve(state.app)
    yield state
    state.release.set()


def type_order(robot: Any, app: Any, description: str, encrypt: bool = False) -> None:
    robot.type(app.orders.description, description)
    if encrypt:
        robot.click(app.orders.encrypt_box)


def test_an_encrypted_order_shows_the_lock_and_a_clear_one_does_not(standin: StandIn, open_app: Any) -> None:
    app, robot = open_app(standin.server.url)
    log_in(app, robot, "ana", "correct horse")

    type_order(robot, app, "ten bolts", encrypt=True)
    robot.click(app.orders.submit)
    robot.wait(lambda: len(app.orders.table.rows()) == 1, "the first order in the table")
    type_order(robot, app, "two nuts")
    robot.key("Return")
    robot.wait(lambda: len(app.orders.table.rows()) == 2, "the second order in the table")

    assert [row[3] for row in app.orders.table.rows()] == ["two nuts", "ten bolts"]
    assert app.orders.encrypted_rows() == ["1"]
    assert app.orders.description.get_value() == ""


def test_a_double_click_on_submit_creates_one_order(standin: StandIn, open_app: Any) -> None:
    app, robot = open_app(standin.server.url)
    log_in(app, robot, "ana", "correct horse")
    type_order(robot, app, "one crate")

    robot.click(app.orders.submit, repeat=2)
    robot.wait(lambda: app.orders.table.rows(), "the order in the table")
    robot.wait(lambda: app.worker.busy == 0, "every request to land")

    assert len(standin.orders) == 1
    assert len(set(standin.order_posts)) == 1


def test_the_window_keeps_answering_while_the_server_holds_the_submission(standin: StandIn, open_app: Any) -> None:
    app, robot = open_app(standin.server.url)
    log_in(app, robot, "ana", "correct horse")
    type_order(robot, app, "held order")
    standin.hold_orders.set()
    robot.click(app.orders.submit)
    robot.wait(lambda: standin.order_posts, "the request to reach the server")

    ticks: list[int] = []
    app.after(10, lambda: ticks.append(1))
    robot.type(app.orders.description, " and the next one")  # the person goes on typing meanwhile
    robot.wait(lambda: ticks, "a timer callback to run")
    still_held = app.orders.submit.is_busy and not standin.orders
    typed_meanwhile = app.orders.description.get_value()

    standin.release.set()
    robot.wait(lambda: app.orders.table.rows(), "the held order to land")

    assert still_held
    assert typed_meanwhile == "held order and the next one"
    assert app.orders.table.rows()[0][3] == "held order"
    assert app.orders.description.get_value() == "held order and the next one"  # not wiped by the success


def test_a_server_that_is_down_keeps_the_form_and_submits_once_it_is_back(serve: Any, open_app: Any) -> None:
    state = StandIn()
    server = serve(state.app)
    app, robot = open_app(server.url, client=ApiClient(server.url, retries=0))
    log_in(app, robot, "ana", "correct horse")
    server.stop()

    type_order(robot, app, "order typed while the server was down", encrypt=True)
    robot.click(app.orders.submit)
    robot.wait(lambda: "Cannot reach" in app.orders.message.text, "the unreachable message")
    kept = app.orders.form()
    retry_shown = app.status.retry.winfo_ismapped()

    server.start()
    robot.click(app.status.retry)
    robot.wait(lambda: app.orders.table.rows(), "the order after the retry")

    assert kept == {"description": "order typed while the server was down", "status": "pending", "encrypt": True}
    assert retry_shown
    assert len(state.orders) == 1


def test_a_submission_retried_after_a_timeout_creates_one_order(standin: StandIn, open_app: Any) -> None:
    url = standin.server.url
    app, robot = open_app(url, client=ApiClient(url, timeout=0.5, retries=0))
    log_in(app, robot, "ana", "correct horse")
    type_order(robot, app, "slow order")
    standin.hold_orders.set()
    robot.click(app.orders.submit)
    robot.wait(lambda: "did not answer in time" in app.orders.message.text,
               f"the timeout message {standin.order_posts} {app.orders.message.text!r} {app.worker.busy}")

    standin.hold_orders.clear()
    robot.click(app.orders.submit)  # the person presses Submit again
    robot.wait(lambda: app.orders.table.rows(), "the order after the second press")
    standin.release.set()
    robot.wait(lambda: app.worker.busy == 0, "every request to land")

    assert len(standin.order_posts) == 2
    assert len(set(standin.order_posts)) == 1
    assert len(standin.orders) == 1


def test_an_expiring_token_is_refreshed_silently(standin: StandIn, open_app: Any) -> None:
    app, robot = open_app(standin.server.url)
    log_in(app, robot, "ana", "correct horse")
    first = app.client.session.access_token

    app.client.session.expires_at -= app.client.session.lifetime - 30  # as if the shift had gone on
    robot.wait(lambda: app.client.session.access_token != first, "the silent refresh")
    assert str(app.status.token.cget("text")) == "Session active"  # no countdown to a refresh nobody sees

    assert app.client.session.access_token != first
    assert standin.refreshes == 1
    assert not app.login_dialog.winfo_viewable()


def test_a_revoked_session_brings_back_the_login_and_keeps_the_typed_order(standin: StandIn,
                                                                           open_app: Any) -> None:
    app, robot = open_app(standin.server.url)
    log_in(app, robot, "ana", "correct horse")
    type_order(robot, app, "typed before the revocation", encrypt=True)
    standin.revoke()

    robot.click(app.orders.submit)
    robot.wait(lambda: app.login_dialog.winfo_viewable(), "the login dialog to come back")
    kept = app.orders.form()
    reason = app.login_dialog.message.text
    robot.type(app.login_dialog.password.entry, "correct horse")
    robot.key("Return")
    robot.wait(lambda: not app.login_dialog.winfo_viewable(), "the second login")
    robot.click(app.orders.submit)
    robot.wait(lambda: app.orders.table.rows(), "the order")

    assert kept["description"] == "typed before the revocation" and kept["encrypt"] is True
    assert "log in again" in reason
    assert [o["description"] for o in standin.orders] == ["typed before the revocation"]


def test_wrong_password_and_unreachable_server_read_differently(standin: StandIn, open_app: Any) -> None:
    app, robot = open_app(standin.server.url)
    dialog = app.login_dialog
    robot.type(dialog.username, "ana")
    robot.type(dialog.password.entry, "wrong")
    robot.key("Return")
    robot.wait(lambda: dialog.message.text, "the refusal")
    wrong = dialog.message.text

    standin.server.stop()
    robot.key("Return")
    robot.wait(lambda: dialog.message.text not in ("", wrong), "the second refusal")

    assert wrong == "Wrong username or password."
    assert dialog.message.text.startswith("Server unreachable")
    assert dialog.password.get_value() == "wrong"


def test_a_user_who_is_not_an_admin_has_no_admin_tab(standin: StandIn, open_app: Any) -> None:
    app, robot = open_app(standin.server.url)
    log_in(app, robot, "ana", "correct horse")

    tabs = [app.notebook.tab(t, "text") for t in app.notebook.tabs()]

    assert tabs == ["Orders", "Notes", "Passwords", "Logs"]
    assert app.admin is None



def test_a_full_disk_on_the_server_is_shown_as_needing_an_operator_and_the_form_is_kept(
        standin: StandIn, open_app: Any) -> None:
    app, robot = open_app(standin.server.url)
    log_in(app, robot, "ana", "correct horse")
    standin.disk_full = True

    type_order(robot, app, "order typed while the disk is full")
    robot.click(app.orders.submit)
    robot.wait(lambda: "disk is full" in app.orders.message.text, "the disk-full message")

    assert "until an operator frees space" in app.orders.message.text
    assert "try again in" not in app.orders.message.text
    assert not app.status.retry.winfo_ismapped()
    assert app.orders.form()["description"] == "order typed while the disk is full"
    assert standin.orders == [] and len(standin.order_posts) == 1
