"""The Orders tab: the entry form on top, recent orders below; and the dialog of one order.

Events: `<<SubmitOrder>>` (Submit or Enter), `<<RefreshOrders>>` (filter, Refresh, F5), `<<NextPage>>`,
`<<PreviousPage>>`, `<<OpenOrder>>` (double-click or Enter on a row); the dialog emits `<<ChangeStatus>>`.
"""

from __future__ import annotations

import json
import tkinter as tk
from collections.abc import Sequence
from tkinter import ttk
from typing import Any

from api.rules import DESCRIPTION_MAX, ORDER_STATUSES
from gui.widgets import BoundedEntry, BusyButton, Message, Table, center_over, lock_icon

ALL = "all"


class OrdersView(ttk.Frame):
    def __init__(self, master: tk.Misc) -> None:
        super().__init__(master, padding=10)
        form = ttk.LabelFrame(self, text="New order", padding=10)
        form.pack(fill="x")
        ttk.Label(form, text="Description").grid(row=0, column=0, sticky="w", padx=(0, 8))
        self.description = BoundedEntry(form, max_length=DESCRIPTION_MAX, width=60)
        self.description.grid(row=0, column=1, columnspan=3, sticky="ew", pady=2)
        ttk.Label(form, text="Status").grid(row=1, column=0, sticky="w", padx=(0, 8))
        # Only the statuses the logged-in role may create an order in (the database says which: offer_statuses).
        self.status = ttk.Combobox(form, values=("pending",), state="readonly", width=14)
        self.status.set("pending")
        self.status.grid(row=1, column=1, sticky="w", pady=2)
        self.encrypt = tk.BooleanVar(self, False)
        # Off by default and for each new order again: encryption is chosen per order, and the box says so.
        self.encrypt_box = ttk.Checkbutton(form, text="Encrypt (this order only)", variable=self.encrypt)
        self.encrypt_box.grid(row=1, column=2, sticky="w", padx=12)
        self.submit = BusyButton(form, text="Submit", busy_text="Submitting…",
                                 command=lambda: self.event_generate("<<SubmitOrder>>"))
        self.submit.grid(row=1, column=3, sticky="e")
        self.message = Message(form)
        self.message.grid(row=2, column=0, columnspan=4, sticky="w", pady=(6, 0))
        form.columnconfigure(1, weight=1)
        for widget in (self.description, self.status, self.encrypt_box):
            widget.bind("<Return>", lambda _e: self._submit_key())

        bar = ttk.Frame(self, padding=(0, 10, 0, 4))
        bar.pack(fill="x")
        ttk.Label(bar, text="Recent orders", style="Heading.TLabel").pack(side="left")
        self.next_button = ttk.Button(bar, text="Next >", command=lambda: self.event_generate("<<NextPage>>"))
        self.next_button.pack(side="right")
        self.previous_button = ttk.Button(bar, text="< Previous",
                                          command=lambda: self.event_generate("<<PreviousPage>>"))
        self.previous_button.pack(side="right", padx=4)
        self.refresh_button = ttk.Button(bar, text="Refresh",
                                         command=lambda: self.event_generate("<<RefreshOrders>>"))
        self.refresh_button.pack(side="right", padx=4)
        self.filter = ttk.Combobox(bar, values=(ALL, *ORDER_STATUSES), state="readonly", width=12)
        self.filter.set(ALL)
        self.filter.pack(side="right", padx=4)
        self.filter.bind("<<ComboboxSelected>>", lambda _e: self.event_generate("<<RefreshOrders>>"))
        ttk.Label(bar, text="Status").pack(side="right")

        self.lock = lock_icon(self)
        self.table = Table(self, [("id", "#", 60), ("status", "Status", 100), ("created", "Created", 170),
                                  ("description", "Description", 300), ("owner", "Owner", 90)], icons=True)
        # The owner column is last in the values (what a row holds) and shown, before the description, only
        # to an admin, who sees everyone's orders (show_owner).
        self.table.tree.column("description", stretch=True)
        self.table.tree.column("owner", stretch=False)
        self.show_owner(False)
        self.owners: dict[int, str] = {}
        """user id -> username, for an admin's owner column."""
        self.table.pack(fill="both", expand=True)
        self.table.tree.bind("<Double-1>", lambda _e: self._open())
        self.table.tree.bind("<Return>", lambda _e: self._open())
        self.page_label = ttk.Label(self, text="", style="Dim.TLabel")
        self.page_label.pack(anchor="w")

    def _submit_key(self) -> None:
        if not self.submit.is_busy:
            self.event_generate("<<SubmitOrder>>")

    def _open(self) -> None:
        if self.table.selected() is not None:
            self.event_generate("<<OpenOrder>>")

    # -- for the controller -----------------------------------------------------------------------

    def form(self) -> dict[str, Any]:
        return {"description": self.description.get_value(), "status": self.status.get(),
                "encrypt": bool(self.encrypt.get())}

    def offer_statuses(self, statuses: Sequence[str]) -> None:
        """The statuses the form offers: those the caller may create an order in, the first one chosen."""
        offered = tuple(statuses) or ("pending",)
        self.status.configure(values=offered)
        if self.status.get() not in offered:
            self.status.set(offered[0])

    def forget(self) -> None:
        """A session ended: nothing of it stays on screen (form, message, table)."""
        self.clear_form()
        self.filter.set(ALL)
        self.message.say("")
        self.table.fill([])
        self.page_label.configure(text="")

    def clear_form(self) -> None:
        self.description.set_value("")
        self.status.set(self.status.cget("values")[0])
        self.encrypt.set(False)
        self.description.focus_set()

    def status_filter(self) -> str | None:
        chosen = self.filter.get()
        return None if chosen == ALL else chosen

    def show_owner(self, shown: bool) -> None:
        self.table.tree.configure(displaycolumns=("id", "status", "created", "owner", "description") if shown
                                  else ("id", "status", "created", "description"))

    def _owner(self, row: dict[str, Any]) -> str:
        user = row.get("user_id")
        return self.owners.get(int(user), f"#{user}") if user is not None else ""

    def show_orders(self, rows: Sequence[dict[str, Any]], page: int, has_next: bool) -> None:
        self.table.fill(((str(row["id"]), (row["id"], row.get("status", ""), _when(row.get("created_at")),
                                           row.get("description") or "(encrypted)", self._owner(row)))
                         for row in rows),
                        icons={str(row["id"]): self.lock for row in rows if _encrypted(row)})
        self.previous_button.state(["!disabled"] if page > 0 else ["disabled"])
        self.next_button.state(["!disabled"] if has_next else ["disabled"])
        count = f"{len(rows)} order" + ("" if len(rows) == 1 else "s")
        self.page_label.configure(text=f"Page {page + 1} · {count}" if rows else "No orders")

    def encrypted_rows(self) -> list[str]:
        """Ids of the rows that show the lock."""
        return [iid for iid in self.table.tree.get_children() if self.table.tree.item(iid, "image")]

    def selected_order(self) -> int | None:
        chosen = self.table.selected()
        return int(chosen) if chosen is not None else None


def _encrypted(row: dict[str, Any]) -> bool:
    return bool(row.get("sensitive") or row.get("encrypted") or row.get("is_encrypted"))


def _when(value: Any) -> str:
    return str(value or "").replace("T", " ")[:19]


class OrderDialog(tk.Toplevel):
    """One order: its fields, its history (order_logs), and a status change along the allowed transitions."""

    def __init__(self, master: tk.Misc, order: dict[str, Any], history: Sequence[dict[str, Any]]) -> None:
        super().__init__(master)
        self.order_id = int(order["id"])
        self.title(f"Order #{self.order_id}")
        self.transient(master)  # type: ignore[arg-type]
        body = ttk.Frame(self, padding=12)
        body.pack(fill="both", expand=True)
        heading = ttk.Label(body, text=f"Order #{self.order_id}", style="Heading.TLabel")
        if _encrypted(order):
            self.lock = lock_icon(self)
            heading.configure(image=self.lock, compound="right", text=f"Order #{self.order_id} (encrypted) ")
        heading.pack(anchor="w")
        self.description = ttk.Label(body, text=order.get("description") or "", wraplength=480)
        self.description.pack(anchor="w", pady=(4, 8))
        self.history = Table(body, [("when", "When", 170), ("who", "Who", 90), ("action", "Action", 110),
                                    ("details", "Details", 260)], height=6)
        self.history.pack(fill="both", expand=True)
        self.show_history(history)

        change = ttk.Frame(body, padding=(0, 8, 0, 0))
        change.pack(fill="x")
        ttk.Label(change, text="Status").pack(side="left")
        # Every status is offered; the database refuses a transition it does not allow, and says why.
        self.status = ttk.Combobox(change, values=ORDER_STATUSES, state="readonly", width=14)
        self.status.set(order.get("status", ""))
        self.status.pack(side="left", padx=6)
        self.apply = BusyButton(change, text="Change status", busy_text="Saving…",
                                command=lambda: self.event_generate("<<ChangeStatus>>"))
        self.apply.pack(side="left")
        ttk.Button(change, text="Close", command=self.destroy).pack(side="right")
        self.message = Message(body)
        self.message.pack(anchor="w", pady=(6, 0))
        self.bind("<Escape>", lambda _e: self.destroy())
        # Enter applies the chosen status (while the status list is open, Enter only picks in it).
        self.bind("<Return>", lambda _e: None if self.apply.is_busy else self.event_generate("<<ChangeStatus>>"))
        self.status.focus_set()
        center_over(self, master)

    def show_history(self, history: Sequence[dict[str, Any]]) -> None:
        self.history.fill((str(i), (_when(row.get("timestamp")), _who(row), row.get("action", ""),
                                    _details(row.get("details")))) for i, row in enumerate(history))


def _who(row: dict[str, Any]) -> str:
    """Who made the change: their name, else the role it ran as (an admin's name is not a user's to read)."""
    return str(row.get("actor_name") or row.get("actor_role") or "")


def _details(details: Any) -> str:
    """An order event's details as a person reads them: "pending → cancelled" rather than JSON."""
    try:
        data = json.loads(details) if isinstance(details, str) else details
    except ValueError:
        return str(details)
    if isinstance(data, dict) and "from" in data and "to" in data:
        return f"{data['from']} → {data['to']}"
    if isinstance(data, dict) and "status" in data:
        return f"status {data['status']}"
    return "" if data is None else str(details)
