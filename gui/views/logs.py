"""The Logs tab: events newest first, filters by level, component and user, and an auto-refresh toggle.

API-call records (one per request: most of the log, and a second copy of every GUI event) are hidden
unless "API calls" is ticked; each row shows when it happened and who, by name.

Events: `<<RefreshLogs>>` (a filter, Refresh, and every few seconds while auto-refresh is on).
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Sequence
from tkinter import ttk
from typing import Any

from api.client import LOG_LEVELS
from gui.widgets import BoundedEntry, Message, Table

ALL = "all"
AUTO_REFRESH_MS = 5000
COMPONENTS = ("client:gui", "auth", "authz", "audit", "keys", "api")
"""Who writes events: this program, sign-in, access checks, the change audit, the key procedures, API calls."""


class LogsView(ttk.Frame):
    def __init__(self, master: tk.Misc) -> None:
        super().__init__(master, padding=10)
        bar = ttk.Frame(self)
        bar.pack(fill="x", pady=(0, 6))
        ttk.Label(bar, text="Level").pack(side="left")
        self.level = ttk.Combobox(bar, values=(ALL, *LOG_LEVELS), state="readonly", width=10)
        self.level.set(ALL)
        self.level.pack(side="left", padx=6)
        self.level.bind("<<ComboboxSelected>>", lambda _e: self.event_generate("<<RefreshLogs>>"))
        ttk.Label(bar, text="Component").pack(side="left", padx=(6, 0))
        self.component = ttk.Combobox(bar, values=(ALL, *COMPONENTS), state="readonly", width=11)
        self.component.set(ALL)
        self.component.pack(side="left", padx=6)
        self.component.bind("<<ComboboxSelected>>", lambda _e: self.event_generate("<<RefreshLogs>>"))
        ttk.Label(bar, text="User").pack(side="left")
        self.user = BoundedEntry(bar, max_length=64, width=12)
        self.user.pack(side="left", padx=6)
        self.user.bind("<Return>", lambda _e: self.event_generate("<<RefreshLogs>>"))
        self.api_calls = tk.BooleanVar(self, False)
        self.api_calls_box = ttk.Checkbutton(bar, text="API calls", variable=self.api_calls,
                                             command=lambda: self.event_generate("<<RefreshLogs>>"))
        self.api_calls_box.pack(side="left", padx=(0, 6))
        ttk.Button(bar, text="Refresh", command=lambda: self.event_generate("<<RefreshLogs>>")).pack(side="left")
        self.auto = tk.BooleanVar(self, False)
        self.auto_box = ttk.Checkbutton(bar, text="Auto-refresh", variable=self.auto, command=self._auto_changed)
        self.auto_box.pack(side="left", padx=10)
        self.scope = ttk.Label(bar, text="", style="Dim.TLabel")
        self.scope.pack(side="right")
        self.table = Table(self, [("time", "Time", 170), ("level", "Level", 80), ("component", "Component", 100),
                                  ("user", "User", 90), ("message", "Message", 420)], height=20)
        self.table.pack(fill="both", expand=True)
        self.message = Message(self)
        self.message.pack(anchor="w")
        self._timer: str | None = None

    def _auto_changed(self) -> None:
        if self.auto.get():
            self._tick()
        elif self._timer is not None:
            self.after_cancel(self._timer)
            self._timer = None

    def _tick(self) -> None:
        self._timer = None
        if self.auto.get():
            self.event_generate("<<RefreshLogs>>")
            self._timer = self.after(AUTO_REFRESH_MS, self._tick)

    def forget(self) -> None:
        """A session ended: its events, filters and message go."""
        self.level.set(ALL)
        self.component.set(ALL)
        self.user.set_value("")
        self.api_calls.set(False)
        self.auto.set(False)
        self._auto_changed()
        self.table.fill([])
        self.message.say("")

    def level_filter(self) -> str | None:
        chosen = self.level.get()
        return None if chosen == ALL else chosen

    def filters(self) -> dict[str, Any]:
        """What the list asks the server for: level, component, user, and whether API calls are included."""
        component = self.component.get()
        return {"level": self.level_filter(), "component": None if component == ALL else component,
                "user": self.user.get_value() or None, "api_calls": bool(self.api_calls.get())}

    def show_logs(self, rows: Sequence[dict[str, Any]]) -> None:
        self.table.fill((str(r.get("id", i)), (
            str(r.get("at") or "").replace("T", " ")[:19], r.get("level") or "", r.get("component") or "",
            _who(r), r.get("message") or r.get("action") or ""))
            for i, r in enumerate(rows))


def _who(row: dict[str, Any]) -> str:
    """Who the event is by (or about), by name; an id only when the caller may not read the name."""
    name = row.get("actor_name") or row.get("username")
    if name:
        return str(name)
    number = row.get("actor_id") or row.get("user_id")
    return f"#{number}" if number else ""
