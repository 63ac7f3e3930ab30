"""The session: the login dialog (log in, register), the token kept fresh, the login dialog back over the
window when the session ends (everything typed stays), and logout (everything of the session goes)."""

from __future__ import annotations

import tkinter as tk
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from gui.controllers import Controller
from gui.views.login import LoginDialog

if TYPE_CHECKING:
    from gui.app import Application


class SessionController(Controller):
    def __init__(self, app: Application, dialog: LoginDialog, tabs: Sequence[Controller]) -> None:
        super().__init__(app, dialog)
        self.tabs = tabs
        self.me: dict[str, Any] = {}
        self._refreshing = False
        self._focus_before: tk.Misc | None = None
        dialog.bind("<<Login>>", lambda _e: self.login())
        dialog.bind("<<Register>>", lambda _e: self.register())
        dialog.bind("<<Quit>>", lambda _e: app.quit_app())

    def login(self) -> None:
        d = self.view
        if (given := self._credentials("Enter your username and password.")) is None:
            return
        username, password = given
        d.message.say("")

        def with_me() -> dict[str, Any]:
            self.client.login(username, password)
            return dict(self.client.me())

        self.run("login", with_me, done=self.logged_in, message=d.message, always=lambda: d.set_busy(False),
                 background=True)

    def register(self) -> None:
        d = self.view
        if (given := self._credentials("Choose a username and a password.")) is None:
            return
        username, password = given

        def created(_: Any) -> None:
            d.message.say("Account created: logging in…")
            self.login()

        self.run("register", self.client.register, username, password, d.email.get_value() or None, done=created,
                 message=d.message, always=lambda: d.set_busy(False), background=True)

    def _credentials(self, missing: str) -> tuple[str, str] | None:
        """The username and password typed, the dialog busy with them; or None, having said `missing`."""
        username, password = self.view.credentials()
        if not username or not password:
            self.view.message.say(missing, error=True)
            return None
        self.view.set_busy(True)
        return username, password

    def logged_in(self, me: dict[str, Any]) -> None:
        app = self.app
        previous = self.me.get("username")
        if previous and previous != me.get("username"):  # someone else took over after an expiry
            self.forget()
        self.me = me
        self.view.hide()
        app.status.show_user(str(me.get("username", "")), str(me.get("role", "")))
        app.status.show_server(True)
        self.requests.client_event("INFO", "login")
        for tab in self.tabs:
            tab.began(me, previous)
        before, self._focus_before = self._focus_before, None
        target = before if before is not None and before.winfo_exists() else app.orders.description
        target.focus_set()

    def keep_fresh(self) -> None:
        """Called once a second: show the token's time left, and refresh it silently when it runs low."""
        session = self.client.session
        self.app.status.show_token(session.seconds_left if session else None)
        if session is not None and not self._refreshing and self.client.needs_refresh(session):
            self._refreshing = True

            def settled() -> None:
                self._refreshing = False

            self.run("refresh", self.client.refresh, always=settled, background=True)

    def relogin(self, reason: str) -> None:
        """The session ended: the login dialog comes back over the window; everything typed stays."""
        if self.view.shown:
            return
        self.app.status.show_token(None)
        self._focus_before = self.app.focus_get()
        self.view.show(reason)

    def logout(self) -> None:
        if self.client.session is None:
            return

        def end() -> None:  # after the event is recorded: it needs the session being ended
            self.run("logout", self.client.logout, always=self._logged_out, quiet=True)

        self.run("log", self.client.post_log, "INFO", "logout", always=end, quiet=True)

    def forget(self) -> None:
        """Everything one user's session put on screen or typed goes: a shared workstation shows the next
        user nothing of the previous one. (After an expiry the same user logging in again keeps it all.)"""
        for tab in self.tabs:
            tab.forget()
        self.requests.forget()
        self._focus_before = None
        self.view.password.set_value("")

    def _logged_out(self) -> None:
        self.me = {}
        self.app.status.show_user("", "")
        self.app.admin_controller.show(False)
        self.forget()
        self.view.heading.configure(text="Log in to Strongroom")
        self.view.message.say("")
        self.view.show()
