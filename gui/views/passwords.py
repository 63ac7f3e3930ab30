"""The Passwords tab: a generator, a form to save a site's login, look-up by site.

Events: `<<GeneratePassword>>`, `<<CopyPassword>>` (the generated one), `<<CopySaved>>` (double-click on a
saved login), `<<SavePassword>>`, `<<LookupPassword>>`, `<<DeletePassword>>` (after confirmation),
`<<RefreshSites>>`. Saved passwords show masked; copying puts them on the clipboard for a short while.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Sequence
from tkinter import ttk
from typing import Any

from api.rules import GENERATED_MAX, GENERATED_MIN
from gui.widgets import BoundedEntry, BusyButton, ConfirmDialog, Message, PasswordEntry, Table

CLASSES = (("lower", "a-z"), ("upper", "A-Z"), ("digits", "0-9"), ("symbols", "!#%…"))


class PasswordsView(ttk.Frame):
    def __init__(self, master: tk.Misc) -> None:
        super().__init__(master, padding=10)
        gen = ttk.LabelFrame(self, text="Generator", padding=10)
        gen.pack(fill="x")
        ttk.Label(gen, text="Length").grid(row=0, column=0, sticky="w")
        self.length = tk.IntVar(self, 20)
        self.length_box = ttk.Spinbox(gen, from_=GENERATED_MIN, to=GENERATED_MAX, textvariable=self.length, width=5)
        self.length_box.grid(row=0, column=1, sticky="w", padx=6)
        self.classes = {name: tk.BooleanVar(self, True) for name, _ in CLASSES}
        for column, (name, label) in enumerate(CLASSES, start=2):
            ttk.Checkbutton(gen, text=label, variable=self.classes[name]).grid(row=0, column=column, padx=4)
        self.exclude_lookalikes = tk.BooleanVar(self, True)
        ttk.Checkbutton(gen, text="No look-alikes (0/O, 1/l/I)", variable=self.exclude_lookalikes).grid(
            row=0, column=6, padx=8)
        self.generate = BusyButton(gen, text="Generate", busy_text="…",
                                   command=lambda: self.event_generate("<<GeneratePassword>>"))
        self.generate.grid(row=0, column=7, padx=4)
        self.copy = ttk.Button(gen, text="Copy", command=lambda: self.event_generate("<<CopyPassword>>"))
        self.copy.grid(row=0, column=8)

        save = ttk.LabelFrame(self, text="Save a login", padding=10)
        save.pack(fill="x", pady=(10, 0))
        ttk.Label(save, text="Site").grid(row=0, column=0, sticky="w")
        self.site = BoundedEntry(save, max_length=255, width=30)
        self.site.grid(row=0, column=1, sticky="ew", padx=6, pady=2)
        ttk.Label(save, text="Login").grid(row=0, column=2, sticky="w")
        self.login = BoundedEntry(save, max_length=255, width=24)
        self.login.grid(row=0, column=3, sticky="ew", padx=6, pady=2)
        ttk.Label(save, text="Password").grid(row=1, column=0, sticky="w")
        self.password = PasswordEntry(save, width=30)
        self.password.grid(row=1, column=1, columnspan=3, sticky="ew", padx=6, pady=2)
        self.save = BusyButton(save, text="Save", busy_text="Saving…",
                               command=lambda: self.event_generate("<<SavePassword>>"))
        self.save.grid(row=1, column=4, padx=4)
        save.columnconfigure(1, weight=1)
        save.columnconfigure(3, weight=1)
        for field in (self.site, self.login, self.password.entry):
            field.bind("<Return>", lambda _e: None if self.save.is_busy else self.event_generate("<<SavePassword>>"))

        find = ttk.LabelFrame(self, text="Look up", padding=10)
        find.pack(fill="both", expand=True, pady=(10, 0))
        top = ttk.Frame(find)
        top.pack(fill="x")
        ttk.Label(top, text="Site").pack(side="left")
        self.lookup_site = BoundedEntry(top, max_length=255, width=30)
        self.lookup_site.pack(side="left", padx=6)
        self.lookup_site.bind("<Return>", lambda _e: self.event_generate("<<LookupPassword>>"))
        ttk.Button(top, text="Find", command=lambda: self.event_generate("<<LookupPassword>>")).pack(side="left")
        ttk.Button(top, text="All sites", command=lambda: self.event_generate("<<RefreshSites>>")).pack(
            side="left", padx=6)
        self.delete = ttk.Button(top, text="Delete…", command=self._confirm_delete)
        self.delete.pack(side="right")
        self.table = Table(find, [("site", "Site", 200), ("login", "Login", 180), ("password", "Password", 240)],
                           height=6)
        self.table.pack(fill="both", expand=True, pady=(6, 0))
        self.table.tree.bind("<Double-1>", lambda _e: self.event_generate("<<CopySaved>>"))
        self.message = Message(self)
        self.message.pack(anchor="w", pady=(6, 0))
        self.confirm: ConfirmDialog | None = None
        self.bind("<<Confirmed>>", lambda _e: self.event_generate("<<DeletePassword>>"))

    def _confirm_delete(self) -> None:
        chosen = self.table.selected()
        if chosen is None:
            self.message.say("Select the login to delete.", error=True)
            return
        site = self.table.tree.item(chosen, "values")[0]
        self.confirm = ConfirmDialog(self, "Delete the login", f"Delete the saved login for {site}?", yes="Delete")

    def generator_options(self) -> tuple[int, list[str], bool]:
        try:
            length = int(self.length.get())
        except (tk.TclError, ValueError):
            length = 20
        return length, [n for n, v in self.classes.items() if v.get()], bool(self.exclude_lookalikes.get())

    def forget(self) -> None:
        """A session ended: the site, login, password, look-up, result and message all go."""
        for field in (self.site, self.login, self.lookup_site):
            field.set_value("")
        self.password.set_value("")
        self.table.fill([])
        self.message.say("")

    def saved_login(self) -> dict[str, str]:
        return {"website": self.site.get_value(), "login": self.login.get_value(),
                "password": self.password.get_value()}

    def show_rows(self, rows: Sequence[dict[str, Any]]) -> None:
        self.table.fill((str(r["id"]), (r.get("website", ""), r.get("username", ""),
                                        "••••••••")) for r in rows)

    def selected_item(self) -> int | None:
        chosen = self.table.selected()
        return int(chosen) if chosen is not None else None
