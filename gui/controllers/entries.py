"""The Notes tab: a user's entries (the seed's secure notes): list, open, write, save, delete."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from api.client import Draft
from gui.controllers import Controller
from gui.views.entries import EntriesView

if TYPE_CHECKING:
    from gui.app import Application


class EntriesController(Controller):
    refresh_event = "<<RefreshEntries>>"

    def __init__(self, app: Application, view: EntriesView) -> None:
        super().__init__(app, view)
        self._draft = Draft()
        view.bind("<<RefreshEntries>>", lambda _e: self.load_entries())
        view.bind("<<OpenEntry>>", lambda _e: self.open_entry())
        view.bind("<<NewEntry>>", lambda _e: (view.show_entry(None), view.title.focus_set()))
        view.bind("<<SaveEntry>>", lambda _e: self.save_entry())
        view.bind("<<DeleteEntry>>", lambda _e: self.delete_entry())

    def shown(self) -> None:
        self.load_entries()

    def forget(self) -> None:
        self.view.forget()
        self._draft = Draft()

    def load_entries(self) -> None:
        self.run("list entries", self.client.list_entries, done=self.view.show_list, message=self.view.message,
                 retry=self.load_entries)

    def open_entry(self) -> None:
        entry_id = self.view.selected_entry()
        if entry_id is None or entry_id == self.view.entry_id:
            return
        self.run("open entry", self.client.get_entry, entry_id, done=self.view.show_entry,
                 message=self.view.message, retry=self.open_entry)

    def save_entry(self) -> None:
        view = self.view
        if view.save.is_busy:
            return
        title, content = view.values()
        if not title:
            view.message.say("Give the note a title.", error=True)
            return
        view.save.set_busy(True)

        def saved(entry: dict[str, Any] | None) -> None:
            if view.entry_id is None:
                self._draft.confirmed((title, content))
            if entry and "id" in entry:
                view.entry_id = int(entry["id"])
            view.message.say(f"Saved “{title}”.")
            self.load_entries()

        if view.entry_id is None:
            key = self._draft.key_for((title, content))
            self.run("save entry", self.client.create_entry, title, content, key, done=saved, message=view.message,
                     retry=self.save_entry, always=lambda: view.save.set_busy(False))
        else:
            self.run("save entry", self.client.update_entry, view.entry_id, title, content, done=saved,
                     message=view.message, always=lambda: view.save.set_busy(False))

    def delete_entry(self) -> None:
        view = self.view
        if view.entry_id is None:
            return
        entry_id = view.entry_id

        def deleted(_: Any) -> None:
            view.show_entry(None)
            view.message.say("Note deleted.")
            self.load_entries()

        self.run("delete entry", self.client.delete_entry, entry_id, done=deleted, message=view.message)
