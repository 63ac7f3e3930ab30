"""The status bar: server, user, role, token expiry; and a Retry button after a request got no answer.

Emits `<<Retry>>`.
"""

from __future__ import annotations

import tkinter as tk
from tkinter import ttk


class StatusBar(ttk.Frame):
    def __init__(self, master: tk.Misc, server: str) -> None:
        super().__init__(master, padding=(8, 3), style="Status.TFrame")
        self.server = ttk.Label(self, text=f"● {server}", style="Status.TLabel")
        self.server.pack(side="left")
        self.retry = ttk.Button(self, text="Retry", command=lambda: self.event_generate("<<Retry>>"))
        self.token = ttk.Label(self, text="", style="Status.TLabel")
        self.token.pack(side="right")
        self.role = ttk.Label(self, text="", style="Status.TLabel")
        self.role.pack(side="right", padx=12)
        self.user = ttk.Label(self, text="not logged in", style="Status.TLabel")
        self.user.pack(side="right", padx=12)
        self._server_url = server

    def show_server(self, reachable: bool, retry: bool = False) -> None:
        state = "" if reachable else " — unreachable"
        self.server.configure(text=f"● {self._server_url}{state}",
                              foreground="#1b5e20" if reachable else "#b00020")
        if retry:
            self.retry.pack(side="left", padx=8)
        else:
            self.retry.pack_forget()

    def show_user(self, username: str, role: str) -> None:
        self.user.configure(text=f"User: {username}" if username else "not logged in")
        self.role.configure(text=f"Role: {role}" if role else "")

    def show_token(self, seconds_left: float | None) -> None:
        """Whether a session is on; no countdown: the token is refreshed silently before it runs out."""
        self.token.configure(text="" if seconds_left is None else "Session active")
