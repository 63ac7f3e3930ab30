"""The login / register dialog, shown over the main window at start and whenever the session ends.

Emits `<<Login>>` (Enter, or the button), `<<Register>>`, and `<<Quit>>` (Escape, or closing it): there is
no "cancel" into the window, since nothing in it works without a session. When the session ends mid-shift,
the dialog comes back with the username filled in; the window behind it keeps everything typed.
"""

from __future__ import annotations

import tkinter as tk
from tkinter import ttk

from api.rules import USERNAME_MAX
from gui.widgets import BoundedEntry, BusyButton, Message, PasswordEntry, center_over


class LoginDialog(tk.Toplevel):
    def __init__(self, master: tk.Misc, server: str) -> None:
        super().__init__(master)
        self.title("Strongroom — log in")
        self.resizable(False, False)
        self.protocol("WM_DELETE_WINDOW", lambda: self.event_generate("<<Quit>>"))
        body = ttk.Frame(self, padding=16)
        body.pack(fill="both", expand=True)

        self.heading = ttk.Label(body, text="Log in to Strongroom", style="Heading.TLabel")
        self.heading.grid(row=0, column=0, columnspan=2, sticky="w", pady=(0, 4))
        ttk.Label(body, text=f"Server: {server}", style="Dim.TLabel").grid(row=1, column=0, columnspan=2,
                                                                          sticky="w", pady=(0, 10))
        ttk.Label(body, text="Username").grid(row=2, column=0, sticky="w", padx=(0, 8))
        self.username = BoundedEntry(body, max_length=USERNAME_MAX, width=28)
        self.username.grid(row=2, column=1, sticky="ew", pady=2)
        ttk.Label(body, text="Password").grid(row=3, column=0, sticky="w", padx=(0, 8))
        self.password = PasswordEntry(body, width=22)
        self.password.grid(row=3, column=1, sticky="ew", pady=2)
        ttk.Label(body, text="E-mail").grid(row=4, column=0, sticky="w", padx=(0, 8))
        self.email = BoundedEntry(body, max_length=254, width=28)
        self.email.grid(row=4, column=1, sticky="ew", pady=2)
        ttk.Label(body, text="(for Register only; optional)", style="Dim.TLabel").grid(row=5, column=1, sticky="w")
        self.message = Message(body, wraplength=320)
        self.message.grid(row=6, column=0, columnspan=2, sticky="w", pady=(8, 0))

        buttons = ttk.Frame(body)
        buttons.grid(row=7, column=0, columnspan=2, sticky="e", pady=(12, 0))
        self.register_button = BusyButton(buttons, text="Register", busy_text="Registering…",
                                          command=lambda: self.event_generate("<<Register>>"))
        self.login_button = BusyButton(buttons, text="Log in", busy_text="Logging in…", default="active",
                                       command=lambda: self.event_generate("<<Login>>"))
        self.register_button.pack(side="left", padx=(0, 6))
        self.login_button.pack(side="left")
        body.columnconfigure(1, weight=1)

        self.bind("<Return>", lambda _e: self.login_button.invoke() if not self.login_button.is_busy else None)
        self.bind("<Escape>", lambda _e: self.event_generate("<<Quit>>"))
        self.shown = False

    def credentials(self) -> tuple[str, str]:
        return self.username.get_value(), self.password.get_value()

    def set_busy(self, busy: bool) -> None:
        self.login_button.set_busy(busy)
        self.register_button.state(["disabled"] if busy else ["!disabled"])

    def show(self, reason: str = "") -> None:
        """Bring the dialog up over the main window, modal, focused on the first empty field."""
        self.shown = True
        self.deiconify()
        self.transient(self.master)  # type: ignore[arg-type]
        self.password.set_value("")
        self.set_busy(False)
        if reason:
            self.message.say(reason, error=True)
            self.heading.configure(text="Log in again")
        self.lift()
        self._grab()

    def _grab(self) -> None:
        """Make the dialog modal once it is on screen (a grab fails on a window not yet viewable)."""
        if not self.shown or not self.winfo_exists():
            return
        if self.master.winfo_width() <= 1:  # the window behind is not laid out yet: wait for its size
            self.after(20, self._grab)
            return
        center_over(self, self.master)
        try:
            self.grab_set()
        except tk.TclError:
            self.after(20, self._grab)
            return
        (self.password.entry if self.username.get_value() else self.username).focus_set()

    def hide(self) -> None:
        self.shown = False
        self.grab_release()
        self.withdraw()
