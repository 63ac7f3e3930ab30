"""The Passwords tab against the real API and database: generate, copy (then cleared), save, look up, delete."""

from __future__ import annotations

import tkinter as tk
from typing import Any

import psycopg

from tests.gui.harness import log_in
from tests.gui.realapi import PASSWORD, RealApi


def clipboard(app: Any) -> str | None:
    try:
        return str(app.clipboard_get())
    except tk.TclError:
        return None


def test_a_generated_password_is_copied_then_cleared_from_the_clipboard(real_api: RealApi, open_app: Any) -> None:
    real_api.register("ana")
    app, robot = open_app(real_api.url, clipboard_clear_ms=500)
    log_in(app, robot, "ana", PASSWORD)
    view = app.passwords
    robot.key("ctrl+3")

    robot.click(view.generate)
    robot.wait(lambda: view.password.get_value(), "a generated password")
    generated = view.password.get_value()
    robot.click(view.copy)
    copied = clipboard(app)
    robot.wait(lambda: clipboard(app) != generated, "the clipboard to be cleared")

    assert len(generated) == 20
    assert copied == generated
    assert clipboard(app) in ("", None)


def test_a_login_is_saved_encrypted_found_by_site_and_deleted(real_api: RealApi, open_app: Any,
                                                                db: psycopg.Connection) -> None:
    real_api.register("ana")
    app, robot = open_app(real_api.url)
    log_in(app, robot, "ana", PASSWORD)
    view = app.passwords
    robot.key("ctrl+3")

    robot.type(view.site, "mail.example.org")
    robot.type(view.login, "ana@example.org")
    robot.type(view.password.entry, "a secret nobody guesses")
    robot.click(view.save)
    robot.wait(lambda: "Saved" in view.message.text, "the saved message")
    stored = db.execute("select site_enc, login_enc, secret_enc from public.vault").fetchall()
    robot.type(view.lookup_site, "mail.example.org")
    robot.key("Return")
    robot.wait(lambda: view.table.rows() == [["mail.example.org", "ana@example.org", "••••••••"]], "the lookup")
    robot.click(view.table.tree, at=robot.cell(view.table.tree, view.table.tree.get_children()[0], "site"))
    robot.click(view.delete)
    robot.wait(lambda: view.confirm is not None and view.confirm.winfo_viewable(), "the confirmation")
    robot.click(view.confirm.yes)
    robot.wait(lambda: "deleted" in view.message.text, "the deletion")

    assert len(stored) == 1 and all(b"secret nobody" not in bytes(column) for column in stored[0])
    assert db.execute("select count(*) from public.vault").fetchone() == (0,)
