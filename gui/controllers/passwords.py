"""The Passwords tab (the API's vault): generate, copy (the clipboard forgets it again), save, look up by
site, list and delete saved logins."""

from __future__ import annotations

import tkinter as tk
from typing import TYPE_CHECKING, Any

from api.client import Draft
from gui.controllers import Controller
from gui.views.passwords import PasswordsView

if TYPE_CHECKING:
    from gui.app import Application

CLIPBOARD_CLEAR_MS = 30_000


class PasswordsController(Controller):
    refresh_event = "<<RefreshSites>>"

    def __init__(self, app: Application, view: PasswordsView, clipboard_clear_ms: int = CLIPBOARD_CLEAR_MS) -> None:
        super().__init__(app, view)
        self.clipboard_clear_ms = clipboard_clear_ms
        self._clipboard_value: str | None = None
        self._saved: dict[int, str] = {}
        self._draft = Draft()
        view.bind("<<GeneratePassword>>", lambda _e: self.generate_password())
        view.bind("<<CopyPassword>>", lambda _e: self.copy_secret(view.password.get_value()))
        view.bind("<<CopySaved>>", lambda _e: self.copy_saved_password())
        view.bind("<<SavePassword>>", lambda _e: self.save_password())
        view.bind("<<LookupPassword>>", lambda _e: self.lookup_password())
        view.bind("<<RefreshSites>>", lambda _e: self.load_sites())
        view.bind("<<DeletePassword>>", lambda _e: self.delete_password())

    def shown(self) -> None:
        self.load_sites()

    def forget(self) -> None:
        self.view.forget()
        self._saved.clear()
        self._draft = Draft()

    def generate_password(self) -> None:
        view = self.view
        length, classes, exclude = view.generator_options()
        if not classes:
            view.message.say("Pick at least one kind of character.", error=True)
            return
        view.generate.set_busy(True)

        def generated(password: str) -> None:
            view.password.set_value(password)
            view.message.say(f"Generated a {len(password)}-character password.")

        self.run("generate password", self.client.generate_password, length, classes, exclude, done=generated,
                 message=view.message, retry=self.generate_password, always=lambda: view.generate.set_busy(False))

    def copy_secret(self, secret: str) -> None:
        """Put a secret on the clipboard, and take it off again after a while unless replaced meanwhile."""
        if not secret:
            self.view.message.say("Nothing to copy.", error=True)
            return
        app = self.app
        app.clipboard_clear()
        app.clipboard_append(secret)
        self._clipboard_value = secret
        app.after(self.clipboard_clear_ms, lambda: self._clear_clipboard(secret))
        seconds = self.clipboard_clear_ms // 1000
        self.view.message.say(f"Copied; the clipboard is cleared in {seconds} s.")

    def _clear_clipboard(self, secret: str) -> None:
        app = self.app
        try:
            current = app.clipboard_get()
        except tk.TclError:
            current = None
        if current == secret and self._clipboard_value == secret:
            app.clipboard_clear()
            app.clipboard_append("")
            self._clipboard_value = None

    def copy_saved_password(self) -> None:
        chosen = self.view.selected_item()
        if chosen is not None and chosen in self._saved:
            self.copy_secret(self._saved[chosen])

    def save_password(self) -> None:
        view = self.view
        if view.save.is_busy:
            return
        item = view.saved_login()
        if not item["website"] or not item["password"]:
            view.message.say("A site and a password are needed.", error=True)
            return
        key = self._draft.key_for(item)
        view.save.set_busy(True)

        def saved(_: Any) -> None:
            self._draft.confirmed(item)
            view.password.set_value("")
            view.message.say(f"Saved the login for {item['website']}.")
            self.requests.client_event("INFO", "password saved")
            self.load_sites()

        self.run("save password", self.client.save_password, item["website"], item["login"], item["password"],
                 key, done=saved, message=view.message, retry=self.save_password,
                 always=lambda: view.save.set_busy(False))

    def _show_saved(self, rows: list[dict[str, Any]]) -> None:
        self._saved = {int(r["id"]): str(r["password"]) for r in rows if r.get("password")}
        self.view.show_rows(rows)

    def lookup_password(self) -> None:
        view = self.view
        site = view.lookup_site.get_value()
        if not site:
            self.load_sites()
            return
        view.message.say("")  # "Saved ..." described the save, not this look-up

        def found(rows: list[dict[str, Any]]) -> None:
            self._show_saved(rows)
            view.message.say(f"{len(rows)} login{'' if len(rows) == 1 else 's'} saved for {site}.")

        self.run("look up password", self.client.lookup_password, site, done=found, message=view.message,
                 retry=self.lookup_password, missing=lambda: self._show_saved([]))  # not the last site's rows

    def load_sites(self) -> None:
        """Every saved login, by site: the API pages them newest first (sites are stored encrypted, so it
        cannot order by them); the client walks the pages and the tab sorts what it got."""
        def listed(rows: list[dict[str, Any]]) -> None:
            self._show_saved(sorted(rows, key=lambda r: (str(r.get("website", "")).lower(),
                                                         str(r.get("username", "")), int(r["id"]))))

        self.run("list sites", self.client.list_sites, done=listed, message=self.view.message,
                 retry=self.load_sites)

    def delete_password(self) -> None:
        view = self.view
        chosen = view.selected_item()
        if chosen is None:
            return

        def deleted(_: Any) -> None:  # the row leaves the table; looking the site up again would say "nothing"
            tree = view.table.tree
            if tree.exists(str(chosen)):
                tree.delete(str(chosen))
            self._saved.pop(chosen, None)
            view.message.say("Login deleted.")

        self.run("delete password", self.client.delete_password, chosen, done=deleted, message=view.message)
