"""The Admin tab against the real API and database: keys rotate and rows move to the new key; users are managed."""

from __future__ import annotations

from typing import Any

import psycopg

from tests.gui.harness import log_in
from tests.gui.realapi import PASSWORD, RealApi


def admin_window(real_api: RealApi, open_app: Any, make_admin: Any) -> tuple[Any, Any]:
    real_api.register("root")
    make_admin("root")
    app, robot = open_app(real_api.url)
    log_in(app, robot, "root", PASSWORD)
    robot.key("ctrl+5")
    robot.wait(lambda: app.admin is not None and app.admin.keys.rows(), "the key table")
    return app, robot


def test_an_admin_rotates_after_confirming_and_reencrypts_until_the_progress_bar_is_full(
        real_api: RealApi, open_app: Any, make_admin: Any, db: psycopg.Connection) -> None:
    real_api.register("ana")
    tokens = real_api.tokens("ana")
    for n in range(3):
        created = real_api.call("POST", "/orders", tokens, json={"description": f"secret {n}", "sensitive": True})
        assert created.status_code == 201, created.text
    app, robot = admin_window(real_api, open_app, make_admin)
    admin = app.admin
    keys_before = admin.keys.rows()

    robot.click(admin.rotate)
    robot.wait(lambda: admin.confirm is not None and admin.confirm.winfo_viewable(), "the confirmation")
    robot.click(admin.confirm.yes)
    robot.wait(lambda: len(admin.keys.rows()) == len(keys_before) + 1, "the new key in the table")
    rows_on_old_key = db.execute("select count(*) from public.orders where description_key_id <> "
                                 "(select id from public.aes_keys where is_active)").fetchone()
    robot.click(admin.reencrypt)
    robot.wait(lambda: not admin.reencrypt.is_busy, "re-encryption to finish")

    assert rows_on_old_key == (3,)
    assert float(admin.progress.cget("value")) == float(admin.progress.cget("maximum")) == 3
    assert str(admin.progress_label.cget("text")) == "Every row uses the active key"
    assert db.execute("select count(*) from public.orders where description_key_id <> "
                      "(select id from public.aes_keys where is_active)").fetchone() == (0,)


def test_cancelling_the_confirmation_rotates_nothing(real_api: RealApi, open_app: Any, make_admin: Any,
                                                     db: psycopg.Connection) -> None:
    app, robot = admin_window(real_api, open_app, make_admin)
    keys_before = db.execute("select count(*) from public.aes_keys").fetchone()

    robot.click(app.admin.rotate)
    robot.wait(lambda: app.admin.confirm is not None and app.admin.confirm.winfo_viewable(), "the confirmation")
    robot.key("Escape")
    robot.wait(lambda: not app.admin.confirm.winfo_exists(), "the confirmation to close")

    assert db.execute("select count(*) from public.aes_keys").fetchone() == keys_before


def test_an_admin_disables_a_user_from_the_users_table(real_api: RealApi, open_app: Any, make_admin: Any,
                                                        db: psycopg.Connection) -> None:
    real_api.register("ana")
    app, robot = admin_window(real_api, open_app, make_admin)
    admin = app.admin
    robot.wait(lambda: len(admin.users.rows()) == 2, "both users in the table")
    ana = next(iid for iid in admin.users.tree.get_children() if admin.users.tree.item(iid, "values")[1] == "ana")

    robot.click(admin.users.tree, at=robot.cell(admin.users.tree, ana, "username"))
    robot.click(admin.user_buttons["disable"])
    robot.wait(lambda: any(row[1] == "ana" and row[3] == "no" for row in admin.users.rows()), "ana disabled")

    assert db.execute("select is_active from public.users where username = 'ana'").fetchone() == (False,)
