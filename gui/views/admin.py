"""The Admin tab (built only for admins): data keys and users.

Events: `<<RefreshAdmin>>`, `<<RotateKey>>` (after the person confirmed), `<<Reencrypt>>`, `<<RetireKey>>`,
`<<UserAction>>` (with `user_action` set to unlock, disable or enable), `<<SetRole>>`.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Sequence
from tkinter import ttk
from typing import Any

from api.rules import ROLES
from gui.widgets import BusyButton, ConfirmDialog, Message, Table


class AdminView(ttk.Frame):
    def __init__(self, master: tk.Misc) -> None:
        super().__init__(master, padding=10)
        keys = ttk.LabelFrame(self, text="Data keys", padding=10)
        keys.pack(fill="both", expand=True)
        self.keys = Table(keys, [("id", "#", 50), ("label", "Label", 160), ("state", "State", 90),
                                 ("rows", "Rows", 80), ("created", "Created", 170), ("rotated", "Rotated", 170)],
                          height=5)
        self.keys.pack(fill="both", expand=True)
        bar = ttk.Frame(keys, padding=(0, 6, 0, 0))
        bar.pack(fill="x")
        self.rotate = BusyButton(bar, text="Rotate…", busy_text="Rotating…", command=self._confirm_rotate)
        self.rotate.pack(side="left")
        self.reencrypt = BusyButton(bar, text="Re-encrypt", busy_text="Re-encrypting…",
                                    command=lambda: self.event_generate("<<Reencrypt>>"))
        self.reencrypt.pack(side="left", padx=6)
        self.retire = ttk.Button(bar, text="Retire…", command=self._confirm_retire)
        self.retire.pack(side="left")
        ttk.Button(bar, text="Refresh", command=lambda: self.event_generate("<<RefreshAdmin>>")).pack(side="right")
        self.progress = ttk.Progressbar(keys, mode="determinate", maximum=100)
        self.progress.pack(fill="x", pady=(6, 0))
        self.progress_label = ttk.Label(keys, text="", style="Dim.TLabel")
        self.progress_label.pack(anchor="w")

        users = ttk.LabelFrame(self, text="Users", padding=10)
        users.pack(fill="both", expand=True, pady=(10, 0))
        self.users = Table(users, [("id", "#", 50), ("username", "Username", 160), ("role", "Role", 80),
                                   ("active", "Active", 70), ("locked", "Locked until", 200)], height=6)
        self.users.pack(fill="both", expand=True)
        ubar = ttk.Frame(users, padding=(0, 6, 0, 0))
        ubar.pack(fill="x")
        self.user_action = ""
        self.user_buttons: dict[str, ttk.Button] = {}
        for action in ("unlock", "disable", "enable"):
            button = ttk.Button(ubar, text=action.capitalize(), command=lambda a=action: self._user_action(a))
            button.pack(side="left", padx=(0, 6))
            self.user_buttons[action] = button
        self.role = ttk.Combobox(ubar, values=ROLES, state="readonly", width=10)
        self.role.set(ROLES[0])
        self.role.pack(side="left", padx=(12, 4))
        ttk.Button(ubar, text="Set role", command=lambda: self.event_generate("<<SetRole>>")).pack(side="left")
        self.message = Message(self)
        self.message.pack(anchor="w", pady=(6, 0))
        self._pending = ""
        self.confirm: ConfirmDialog | None = None
        self.bind("<<Confirmed>>", lambda _e: self._confirmed())

    def _confirm_rotate(self) -> None:
        self._pending = "<<RotateKey>>"
        self.confirm = ConfirmDialog(self, "Rotate the data key", "Make a new active data key? New writes use "
                                     "it at once; existing rows keep decrypting and can be re-encrypted "
                                     "afterwards.", yes="Rotate")

    def _confirm_retire(self) -> None:
        key = self.selected_key()
        if key is None:
            self.message.say("Select the key to retire.", error=True)
            return
        self._pending = "<<RetireKey>>"
        self.confirm = ConfirmDialog(self, "Retire the data key", f"Destroy the material of key #{key}? Only a "
                                     "key with no rows left can be retired.", yes="Retire")

    def _confirmed(self) -> None:
        self.event_generate(self._pending)

    def _user_action(self, action: str) -> None:
        self.user_action = action
        self.event_generate("<<UserAction>>")

    def selected_key(self) -> int | None:
        chosen = self.keys.selected()
        return int(chosen) if chosen is not None else None

    def selected_user(self) -> int | None:
        chosen = self.users.selected()
        return int(chosen) if chosen is not None else None

    def show_keys(self, keys: Sequence[dict[str, Any]]) -> None:
        self.keys.fill((str(k["id"]), (k["id"], k.get("key_label", ""), k.get("state", ""), k.get("total_rows", ""),
                                       str(k.get("created_at") or "")[:19].replace("T", " "),
                                       str(k.get("rotated_at") or "")[:19].replace("T", " "))) for k in keys)

    def show_users(self, users: Sequence[dict[str, Any]]) -> None:
        self.users.fill((str(u["user_id"]), (u["user_id"], u.get("username", ""), u.get("role", ""),
                                        "yes" if u.get("is_active", True) else "no",
                                        "until unlocked" if u.get("locked_until_unlocked")
                                        else str(u.get("locked_until") or "")[:19].replace("T", " ")))
                          for u in users)

    def show_progress(self, done: int, total: int, rows_left: int) -> None:
        if total == 0:  # nothing was left to move: that is done, too
            done = total = 1
        self.progress.configure(maximum=total)
        self.progress.configure(value=done)  # after the new maximum, or Tk clamps it to the old one
        self.progress_label.configure(text=f"{rows_left} rows left to re-encrypt" if rows_left
                                      else "Every row uses the active key")
