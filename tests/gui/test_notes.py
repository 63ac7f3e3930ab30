"""The Notes tab against the real API and database: a note is written, stored encrypted, edited and deleted."""

from __future__ import annotations

from typing import Any

import psycopg

from tests.gui.harness import log_in
from tests.gui.realapi import PASSWORD, RealApi


def test_a_note_is_saved_encrypted_reopened_edited_and_deleted_after_confirmation(
        real_api: RealApi, open_app: Any, db: psycopg.Connection) -> None:
    real_api.register("ana")
    app, robot = open_app(real_api.url)
    log_in(app, robot, "ana", PASSWORD)
    notes = app.entries
    robot.key("ctrl+2")
    robot.wait(lambda: app.worker.busy == 0, "the notes list")

    robot.type(notes.title, "door codes")
    robot.type(notes.content, "back door 4711")
    robot.click(notes.save)
    robot.wait(lambda: notes.table.rows() == [["door codes"]], "the note in the list")
    stored = db.execute("select title, content, content_enc from public.entries").fetchone()
    robot.click(notes.table.tree, at=robot.cell(notes.table.tree, notes.table.tree.get_children()[0], "title"))
    robot.type(notes.content, ", side door 0815")
    robot.key("ctrl+s")
    robot.wait(lambda: "Saved" in notes.message.text and app.worker.busy == 0, "the edit to be saved")
    reread = real_api.call("GET", f"/entries/{notes.entry_id}", real_api.tokens("ana")).json()
    robot.click(notes.delete)
    robot.wait(lambda: notes.confirm is not None and notes.confirm.winfo_viewable(), "the confirmation")
    robot.click(notes.confirm.yes)
    robot.wait(lambda: notes.table.rows() == [], "the list without the note")

    title, content, ciphertext = stored
    assert title == "door codes" and content in (None, "") and b"4711" not in bytes(ciphertext)
    assert reread["content"] == "back door 4711, side door 0815"
    assert db.execute("select count(*) from public.entries").fetchone() == (0,)
