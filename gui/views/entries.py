"""The Notes tab: a user's secure notes (the API's entries): titles on the left, the open one on the right.

Events: `<<OpenEntry>>` (select a title), `<<NewEntry>>`, `<<SaveEntry>>` (Ctrl+S), `<<DeleteEntry>>`,
`<<RefreshEntries>>`.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Sequence
from tkinter import ttk
from typing import Any

from gui.widgets import BoundedEntry, BusyButton, ConfirmDialog, Message, Table


class EntriesView(ttk.Frame):
    def __init__(self, master: tk.Misc) -> None:
        super().__init__(master, padding=10)
        self.entry_id: int | None = None
        left = ttk.Frame(self)
        left.pack(side="left", fill="y")
        self.table = Table(left, [("title", "Title", 220)], height=18)
        self.table.pack(fill="both", expand=True)
        self.table.tree.bind("<<TreeviewSelect>>", lambda _e: self._open())
        ttk.Button(left, text="Refresh", command=lambda: self.event_generate("<<RefreshEntries>>")).pack(
            fill="x", pady=(6, 0))

        right = ttk.Frame(self, padding=(12, 0, 0, 0))
        right.pack(side="left", fill="both", expand=True)
        ttk.Label(right, text="Title").grid(row=0, column=0, sticky="w")
        self.title = BoundedEntry(right, max_length=255)
        self.title.grid(row=0, column=1, sticky="ew", pady=2)
        ttk.Label(right, text="Content (stored encrypted)").grid(row=1, column=0, columnspan=2, sticky="w")
        self.content = tk.Text(right, height=14, wrap="word", undo=True, font="TkTextFont")
        self.content.grid(row=2, column=0, columnspan=2, sticky="nsew")
        buttons = ttk.Frame(right, padding=(0, 6, 0, 0))
        buttons.grid(row=3, column=0, columnspan=2, sticky="ew")
        ttk.Button(buttons, text="New", command=lambda: self.event_generate("<<NewEntry>>")).pack(side="left")
        self.save = BusyButton(buttons, text="Save", busy_text="Saving…",
                               command=lambda: self.event_generate("<<SaveEntry>>"))
        self.save.pack(side="left", padx=6)
        self.delete = ttk.Button(buttons, text="Delete…", command=self._confirm_delete)
        self.delete.pack(side="right")
        self.message = Message(right)
        self.message.grid(row=4, column=0, columnspan=2, sticky="w")
        right.columnconfigure(1, weight=1)
        right.rowconfigure(2, weight=1)
        self.content.bind("<Control-s>", lambda _e: (self.event_generate("<<SaveEntry>>"), "break")[1])
        self.title.bind("<Return>", lambda _e: self.content.focus_set())
        self.confirm: ConfirmDialog | None = None
        self.bind("<<Confirmed>>", lambda _e: self.event_generate("<<DeleteEntry>>"))

    def _confirm_delete(self) -> None:
        if self.entry_id is not None:
            self.confirm = ConfirmDialog(self, "Delete the note", f"Delete “{self.title.get_value()}”? "
                                         "This cannot be undone.", yes="Delete")

    def _open(self) -> None:
        if self.table.selected() is not None:
            self.event_generate("<<OpenEntry>>")

    def selected_entry(self) -> int | None:
        chosen = self.table.selected()
        return int(chosen) if chosen is not None else None

    def show_list(self, entries: Sequence[dict[str, Any]]) -> None:
        self.table.fill((str(n["id"]), (n.get("title") or "(untitled)",)) for n in entries)
        if self.entry_id is not None and self.table.tree.exists(str(self.entry_id)):
            self.table.tree.selection_set(str(self.entry_id))

    def show_entry(self, entry: dict[str, Any] | None) -> None:
        self.entry_id = int(entry["id"]) if entry else None
        self.title.set_value(entry.get("title") or "" if entry else "")
        self.content.delete("1.0", "end")
        self.content.insert("1.0", entry.get("content") or "" if entry else "")
        self.content.edit_reset()
        self.delete.state(["!disabled"] if entry else ["disabled"])

    def forget(self) -> None:
        """A session ended: the open note, the list and the message go."""
        self.show_entry(None)
        self.table.fill([])
        self.message.say("")

    def values(self) -> tuple[str, str]:
        return self.title.get_value(), self.content.get("1.0", "end-1c")
