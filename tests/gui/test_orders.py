"""The Orders tab against the real API and database: what the operator types ends up, once, where it belongs."""

from __future__ import annotations

from typing import Any

import psycopg

from api.client import ApiClient
from tests.gui.harness import log_in
from tests.gui.realapi import PASSWORD, RealApi


def signed_in(real_api: RealApi, open_app: Any, username: str = "ana", **options: Any) -> tuple[Any, Any]:
    real_api.register(username)
    app, robot = open_app(real_api.url, **options)
    log_in(app, robot, username, PASSWORD)
    return app, robot


def submit(robot: Any, app: Any, description: str, encrypt: bool = False) -> None:
    robot.type(app.orders.description, description)
    if encrypt:
        robot.click(app.orders.encrypt_box)
    robot.click(app.orders.submit)


def test_orders_with_and_without_encrypt_reach_the_table_the_database_and_the_logs(
        real_api: RealApi, open_app: Any, db: psycopg.Connection) -> None:
    app, robot = signed_in(real_api, open_app)

    submit(robot, app, "crate of secret bolts", encrypt=True)
    robot.wait(lambda: len(app.orders.table.rows()) == 1, "the encrypted order in the table")
    submit(robot, app, "box of plain nuts")
    robot.wait(lambda: len(app.orders.table.rows()) == 2, "the clear order in the table")
    robot.key("ctrl+4")
    robot.wait(lambda: any("submitted" in row[4] for row in app.logs.table.rows()), "the client events")

    shown = {row[3]: row[0] for row in app.orders.table.rows()}
    stored = {row[0]: row[1:] for row in db.execute(
        "select id, description, description_enc, sensitive from public.orders").fetchall()}
    secret_id, plain_id = int(shown["crate of secret bolts"]), int(shown["box of plain nuts"])
    assert app.orders.encrypted_rows() == [str(secret_id)]
    assert stored[plain_id] == ("box of plain nuts", None, False)
    description, ciphertext, sensitive = stored[secret_id]
    assert sensitive and description == "" and ciphertext is not None
    assert b"secret bolts" not in bytes(ciphertext)
    gui_events = [row for row in app.logs.table.rows() if row[2].endswith("gui")]  # the database may prefix it
    audited = [row for row in app.logs.table.rows() if row[2] == "audit"]
    assert {f"order {secret_id} submitted", f"order {plain_id} submitted"} <= {row[4] for row in gui_events}
    assert len(audited) >= 2  # and the database's own audit rows of the two inserts


def test_a_double_click_on_submit_creates_exactly_one_order(real_api: RealApi, open_app: Any,
                                                             db: psycopg.Connection) -> None:
    app, robot = signed_in(real_api, open_app)
    robot.type(app.orders.description, "one pallet")

    robot.click(app.orders.submit, repeat=2)
    robot.wait(lambda: app.orders.table.rows(), "the order in the table")
    robot.wait(lambda: app.worker.busy == 0, "every request to land")

    assert db.execute("select count(*) from public.orders").fetchone() == (1,)


def test_the_window_keeps_answering_while_the_database_holds_the_order_and_the_order_lands_after(
        real_api: RealApi, open_app: Any, db: psycopg.Connection, connect: Any) -> None:
    app, robot = signed_in(real_api, open_app)
    blocker = connect()
    blocker.execute("lock table public.orders in share mode")  # inserts wait until this transaction ends
    robot.type(app.orders.description, "held order")
    robot.click(app.orders.submit)
    robot.wait(lambda: db.execute("select count(*) from pg_locks where not granted").fetchone()[0] > 0,
               "the API's insert to wait for the lock")

    ticks: list[int] = []
    app.after(10, lambda: ticks.append(1))
    robot.type(app.orders.description, " and the next")
    robot.wait(lambda: ticks, "a timer callback to run")
    held = app.orders.submit.is_busy and not app.orders.table.rows()
    typed = app.orders.description.get_value()

    blocker.rollback()
    robot.wait(lambda: app.orders.table.rows(), "the held order to land")

    assert held
    assert typed == "held order and the next"
    assert app.orders.table.rows()[0][3] == "held order"
    assert app.orders.description.get_value() == "held order and the next"


def test_a_retry_after_a_timeout_reuses_the_key_and_creates_one_order(
        real_api: RealApi, open_app: Any, db: psycopg.Connection, connect: Any) -> None:
    real_api.register("ana")
    app, robot = open_app(real_api.url, client=ApiClient(real_api.url, timeout=1.0, retries=0))
    log_in(app, robot, "ana", PASSWORD)
    blocker = connect()
    blocker.execute("lock table public.orders in share mode")
    robot.type(app.orders.description, "order sent into the void")
    robot.click(app.orders.submit)
    robot.wait(lambda: "did not answer in time" in app.orders.message.text, "the timeout")
    kept = app.orders.description.get_value()

    blocker.rollback()  # the first attempt, still running on the server, now commits
    robot.wait(lambda: db.execute("select count(*) from public.orders").fetchone() == (1,), "the first attempt")
    robot.click(app.orders.submit)  # the operator presses Submit again
    robot.wait(lambda: app.orders.table.rows(), "the order in the table")

    assert kept == "order sent into the void"
    assert db.execute("select count(*) from public.orders").fetchone() == (1,)
    assert [row[3] for row in app.orders.table.rows()] == ["order sent into the void"]


def test_with_the_server_down_the_form_is_kept_and_the_order_goes_through_once_it_is_back(
        real_api: RealApi, open_app: Any, db: psycopg.Connection) -> None:
    real_api.register("ana")
    app, robot = open_app(real_api.url, client=ApiClient(real_api.url, retries=0))
    log_in(app, robot, "ana", PASSWORD)
    real_api.stop()

    robot.type(app.orders.description, "typed during the outage")
    robot.click(app.orders.encrypt_box)
    robot.click(app.orders.submit)
    robot.wait(lambda: "Cannot reach the server" in app.orders.message.text, "the outage message")
    kept = app.orders.form()
    message = app.orders.message.text

    real_api.start()
    robot.click(app.status.retry)
    robot.wait(lambda: app.orders.table.rows(), "the order after the retry")

    assert kept == {"description": "typed during the outage", "status": "pending", "encrypt": True}
    assert "Traceback" not in message and "What you typed is kept" in message
    assert db.execute("select count(*), bool_and(sensitive) from public.orders").fetchone() == (1, True)


def test_an_order_opens_with_its_history_and_moves_along_the_allowed_transitions(
        real_api: RealApi, open_app: Any, db: psycopg.Connection) -> None:
    app, robot = signed_in(real_api, open_app)
    robot.type(app.orders.description, "order to process")
    robot.click(app.orders.submit)
    robot.wait(lambda: app.orders.table.rows(), "the order")
    tree = app.orders.table.tree

    robot.double_click(tree, at=robot.cell(tree, tree.get_children()[0], "description"))
    robot.wait(lambda: app.order_dialog is not None and app.order_dialog.winfo_viewable(), "the order dialog")
    dialog = app.order_dialog
    history_before = dialog.history.rows()
    robot.click(dialog.status)
    robot.key("Down", "Down", "Down", "Return")  # the list opens at "pending"; three down is "cancelled"
    robot.wait(lambda: dialog.status.get() == "cancelled", "cancelled chosen")
    robot.click(dialog.apply)
    robot.wait(lambda: len(dialog.history.rows()) > len(history_before), "the status change in the history")
    robot.click(dialog.status)
    robot.key("Up", "Return")  # cancelled -> shipped: not an allowed transition
    robot.wait(lambda: dialog.status.get() == "shipped", "shipped chosen")
    robot.click(dialog.apply)
    robot.wait(lambda: str(dialog.message.cget("foreground")) == "#b00020", "the refusal, in red")

    assert [row[2] for row in history_before] == ["created"]
    assert dialog.history.rows()[-1][1:] == ["ana", "status_changed", "pending → cancelled"]
    assert db.execute("select status from public.orders").fetchone() == ("cancelled",)
    assert "Status is now" not in dialog.message.text and dialog.message.text  # the database's reason


def test_the_table_pages_through_orders_and_filters_them_by_status(real_api: RealApi, open_app: Any) -> None:
    real_api.register("ana")
    tokens = real_api.tokens("ana")
    for n in range(1, 22):
        real_api.call("POST", "/orders", tokens, json={"description": f"order {n}"})
    real_api.call("PATCH", "/orders/7", tokens, json={"status": "cancelled"})
    app, robot = open_app(real_api.url)
    log_in(app, robot, "ana", PASSWORD)
    view = app.orders
    robot.wait(lambda: len(view.table.rows()) == 20, "the first page")
    first_page = [row[0] for row in view.table.rows()]

    robot.click(view.next_button)
    robot.wait(lambda: [row[0] for row in view.table.rows()] == ["1"], "the second page")
    robot.click(view.previous_button)
    robot.wait(lambda: len(view.table.rows()) == 20, "the first page again")
    robot.click(view.filter)
    robot.key("Down", "Down", "Down", "Down", "Return")  # all, pending, processing, shipped, cancelled
    robot.wait(lambda: [row[0] for row in view.table.rows()] == ["7"], "the cancelled order alone")

    assert first_page == [str(n) for n in range(21, 1, -1)]
    assert view.next_button.instate(["disabled"])


def test_the_form_offers_only_the_statuses_the_role_may_create_an_order_in(
        real_api: RealApi, open_app: Any, make_admin: Any, db: psycopg.Connection) -> None:
    app, robot = signed_in(real_api, open_app)
    robot.wait(lambda: app.worker.busy == 0, "the statuses")
    operator_offer = tuple(app.orders.status.cget("values"))
    robot.key("ctrl+l")
    robot.wait(lambda: app.login_dialog.winfo_viewable(), "the login dialog after logout")
    real_api.register("boss")
    make_admin("boss")
    log_in(app, robot, "boss", PASSWORD)
    robot.wait(lambda: len(app.orders.status.cget("values")) == 2, "the admin's statuses")

    robot.type(app.orders.description, "already in the works")
    robot.click(app.orders.status)
    robot.key("Down", "Return")
    robot.wait(lambda: app.orders.status.get() == "processing", "processing chosen")
    robot.click(app.orders.submit)
    robot.wait(lambda: app.orders.table.rows(), "the order")

    assert operator_offer == ("pending",)
    assert tuple(app.orders.status.cget("values")) == ("pending", "processing")
    assert db.execute("select status from public.orders").fetchall() == [("processing",)]
    assert "as processing" in app.orders.message.text and str(app.orders.message.cget("foreground")) != "#b00020"


def test_an_admin_sees_who_owns_each_order_by_name(real_api: RealApi, open_app: Any, make_admin: Any) -> None:
    real_api.register("ana")
    real_api.call("POST", "/orders", real_api.tokens("ana"), json={"description": "ana's order"})
    real_api.register("boss")
    make_admin("boss")
    app, robot = open_app(real_api.url)
    log_in(app, robot, "boss", PASSWORD)
    robot.wait(lambda: app.orders.table.rows() and app.orders.table.rows()[0][4] == "ana", "the owner's name")

    assert "owner" in app.orders.table.tree.cget("displaycolumns")
    assert app.orders.table.tree.column("owner", "width") > 0
