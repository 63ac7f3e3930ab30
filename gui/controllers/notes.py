"""The Notes tab: a user's secure notes (the API's entries): list, open, write, save, delete."""

from __future__ import annotations

from typing import Any

from api.client import Draft
from gui.controllers import Controller
from gui.views.notes import NotesView


class NotesController(Controller):
    refresh_event = "<<RefreshNotes>>"

    def __init__(self, app: Any, view: NotesView) -> None:
        super().__init__(app)
        self._view = view
        self._draft = Draft()
        view.bind("<<RefreshNotes>>", lambda _e: self.load_notes())
        view.bind("<<OpenNote>>", lambda _e: self.open_note())
        view.bind("<<NewNote>>", lambda _e: (view.show_note(None), view.title.focus_set()))
        view.bind("<<SaveNote>>", lambda _e: self.save_note())
        view.bind("<<DeleteNote>>", lambda _e: self.delete_note())

    @property
    def view(self) -> NotesView:
        return self._view

    def shown(self) -> None:
        self.load_notes()

    def forget(self) -> None:
        self._view.forget()
        self._draft = Draft()

    def load_notes(self) -> None:
        self.run("list notes", self.client.list_notes, done=self._view.show_list, message=self._view.message,
                 retry=self.load_notes)

    def open_note(self) -> None:
        note_id = self._view.selected_note()
        if note_id is None or note_id == self._view.note_id:
            return
        self.run("open note", self.client.get_note, note_id, done=self._view.show_note,
                 message=self._view.message, retry=self.open_note)

    def save_note(self) -> None:
        view = self._view
        if view.save.is_busy:
            return
        title, content = view.values()
        if not title:
            view.message.say("Give the note a title.", error=True)
            return
        view.save.set_busy(True)

        def saved(note: dict[str, Any] | None) -> None:
            if view.note_id is None:
                self._draft.confirmed((title, content))
            if note and "id" in note:
                view.note_id = int(note["id"])
            view.message.say(f"Saved “{title}”.")
            self.load_notes()

        if view.note_id is None:
            key = self._draft.key_for((title, content))
            self.run("save note", self.client.create_note, title, content, key, done=saved, message=view.message,
                     retry=self.save_note, always=lambda: view.save.set_busy(False))
        else:
            self.run("save note", self.client.update_note, view.note_id, title, content, done=saved,
                     message=view.message, always=lambda: view.save.set_busy(False))

    def delete_note(self) -> None:
        view = self._view
        if view.note_id is None:
            return
        note_id = view.note_id

        def deleted(_: Any) -> None:
            view.show_note(None)
            view.message.say("Note deleted.")
            self.load_notes()

        self.run("delete note", self.client.delete_note, note_id, done=deleted, message=view.message)
