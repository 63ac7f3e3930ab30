"""Input widgets the screens share: bounded entries, a password entry with a show toggle, a busy button, a table.

They validate what a person can get wrong while typing (length, digits) and say so next to the field; every
rule that matters is the server's (the database's), whose refusal the screens show as it comes.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Iterable, Sequence
from tkinter import font, ttk
from typing import Any


def center_over(dialog: tk.Toplevel, master: tk.Misc) -> None:
    """Place a dialog in the middle of the window it belongs to."""
    dialog.update_idletasks()
    top = master.winfo_toplevel()
    x = top.winfo_rootx() + max((top.winfo_width() - dialog.winfo_reqwidth()) // 2, 0)
    y = top.winfo_rooty() + max((top.winfo_height() - dialog.winfo_reqheight()) // 3, 0)
    dialog.geometry(f"+{x}+{y}")


class BoundedEntry(ttk.Entry):
    """An entry that refuses input past `max_length` characters and NUL bytes."""

    def __init__(self, master: tk.Misc, max_length: int = 255, **options: Any) -> None:
        self.variable = options.pop("textvariable", None) or tk.StringVar(master)
        super().__init__(master, textvariable=self.variable, **options)
        self.max_length = max_length
        check = self.register(self._acceptable)
        self.configure(validate="key", validatecommand=(check, "%P"))

    def _acceptable(self, proposed: str) -> bool:
        return len(proposed) <= self.max_length and "\x00" not in proposed

    def get_value(self) -> str:
        return self.variable.get().strip()

    def set_value(self, value: str) -> None:
        self.variable.set(value)


class PasswordEntry(ttk.Frame):
    """A masked entry with a "Show" checkbox."""

    def __init__(self, master: tk.Misc, **options: Any) -> None:
        super().__init__(master)
        self.variable = tk.StringVar(self)
        self.entry = ttk.Entry(self, textvariable=self.variable, show="•", **options)
        self.visible = tk.BooleanVar(self, False)
        self.toggle = ttk.Checkbutton(self, text="Show", variable=self.visible, command=self._toggle,
                                      takefocus=False)
        self.entry.pack(side="left", fill="x", expand=True)
        self.toggle.pack(side="left", padx=(6, 0))

    def _toggle(self) -> None:
        self.entry.configure(show="" if self.visible.get() else "•")

    def get_value(self) -> str:
        return self.variable.get()

    def set_value(self, value: str) -> None:
        self.variable.set(value)


class BusyButton(ttk.Button):
    """A button that shows it is working and refuses clicks meanwhile (one submission per click)."""

    def __init__(self, master: tk.Misc, text: str, busy_text: str = "Working…", **options: Any) -> None:
        super().__init__(master, text=text, **options)
        self.idle_text, self.busy_text = text, busy_text

    def set_busy(self, busy: bool) -> None:
        self.configure(text=self.busy_text if busy else self.idle_text)
        self.state(["disabled"] if busy else ["!disabled"])

    @property
    def is_busy(self) -> bool:
        return self.instate(["disabled"])


CELL_PADDING = 18
MAX_COLUMN = 420


class Table(ttk.Frame):
    """A Treeview with a vertical scrollbar; rows are keyed by their id (`iid`)."""

    def __init__(self, master: tk.Misc, columns: Sequence[tuple[str, str, int]], height: int = 10,
                 selectmode: str = "browse", icons: bool = False) -> None:
        super().__init__(master)
        self.tree = ttk.Treeview(self, columns=[name for name, _, _ in columns],
                                 show="tree headings" if icons else "headings", height=height, selectmode=selectmode)
        if icons:
            self.tree.column("#0", width=30, stretch=False)
        self._columns = [(name, heading, width) for name, heading, width in columns]
        for name, heading, width in columns:
            self.tree.heading(name, text=heading)
            self.tree.column(name, width=width, stretch=name == columns[-1][0])
        scroll = ttk.Scrollbar(self, orient="vertical", command=self.tree.yview)
        self.tree.configure(yscrollcommand=scroll.set)
        self.tree.grid(row=0, column=0, sticky="nsew")
        scroll.grid(row=0, column=1, sticky="ns")
        self.rowconfigure(0, weight=1)
        self.columnconfigure(0, weight=1)

    def fill(self, rows: Iterable[tuple[str, Sequence[Any]]], icons: dict[str, tk.PhotoImage] | None = None) -> None:
        chosen = self.tree.selection()
        self.tree.delete(*self.tree.get_children())
        for iid, values in rows:
            icon = (icons or {}).get(iid)
            self.tree.insert("", "end", iid=iid, values=list(values), **({"image": icon} if icon else {}))
        kept = [iid for iid in chosen if self.tree.exists(iid)]  # a refresh keeps what the person selected
        if kept:
            self.tree.selection_set(kept)
        self._fit()

    def _fit(self) -> None:
        """Every column but the stretching one (the last, unless set otherwise) as wide as its widest cell or
        heading (up to MAX_COLUMN): nothing is clipped and no column is wider than what it shows."""
        measure = font.nametofont("TkDefaultFont").measure
        heading = font.nametofont("TkHeadingFont").measure
        rows = [self.tree.item(iid, "values") for iid in self.tree.get_children()]
        for n, (name, title, _declared) in enumerate(self._columns):
            if self.tree.column(name, "stretch"):
                continue  # the column that takes what is left
            widest = max([heading(title)] + [measure(str(row[n])) for row in rows if n < len(row)])
            self.tree.column(name, width=min(widest + CELL_PADDING, MAX_COLUMN))

    def selected(self) -> str | None:
        chosen = self.tree.selection()
        return chosen[0] if chosen else None

    def rows(self) -> list[list[str]]:
        """What the table shows, as text, top to bottom (what the tests and a screen reader read)."""
        return [[str(v) for v in self.tree.item(iid, "values")] for iid in self.tree.get_children()]


class Message(ttk.Label):
    """A one-line message under a form: neutral, or red for an error."""

    def __init__(self, master: tk.Misc, **options: Any) -> None:
        options.setdefault("wraplength", 560)
        super().__init__(master, text="", **options)

    def say(self, text: str, error: bool = False) -> None:
        if not self.winfo_exists():  # its dialog was closed before the answer came
            return
        self.configure(text=text, foreground="#b00020" if error else "#1b5e20")

    @property
    def text(self) -> str:
        return str(self.cget("text"))


class ConfirmDialog(tk.Toplevel):
    """A yes/no question that does not block the event loop (so requests keep landing meanwhile).

    Emits `<<Confirmed>>` on the master when the person answers yes; No, Escape and closing answer no.
    """

    def __init__(self, master: tk.Misc, title: str, question: str, yes: str = "Yes") -> None:
        super().__init__(master)
        self.title(title)
        self.transient(master.winfo_toplevel())  # type: ignore[arg-type]
        self.resizable(False, False)
        body = ttk.Frame(self, padding=16)
        body.pack(fill="both", expand=True)
        ttk.Label(body, text=question, wraplength=380, justify="left").pack(anchor="w")
        buttons = ttk.Frame(body, padding=(0, 12, 0, 0))
        buttons.pack(fill="x")
        self.no = ttk.Button(buttons, text="Cancel", command=self.destroy)
        self.no.pack(side="right")
        self.yes = ttk.Button(buttons, text=yes, command=self._yes)
        self.yes.pack(side="right", padx=6)
        self.bind("<Escape>", lambda _e: self.destroy())
        self.protocol("WM_DELETE_WINDOW", self.destroy)
        self.no.focus_set()  # a destructive question defaults to no
        self._master = master
        center_over(self, master)

    def _yes(self) -> None:
        self.destroy()
        self._master.event_generate("<<Confirmed>>")


LOCK_PIXELS = (
    "....XXXX....",
    "...X....X...",
    "..X......X..",
    "..X......X..",
    "..X......X..",
    ".XXXXXXXXXX.",
    ".XXXXXXXXXX.",
    ".XXXXX.XXXX.",
    ".XXXX..XXXX.",
    ".XXXXX.XXXX.",
    ".XXXXXXXXXX.",
    ".XXXXXXXXXX.",
)


def lock_icon(master: tk.Misc) -> tk.PhotoImage:
    """A padlock drawn in pixels, so it shows on any font (emoji fonts are often missing)."""
    image = tk.PhotoImage(master=master, width=12, height=12)
    for y, line in enumerate(LOCK_PIXELS):
        for x, pixel in enumerate(line):
            if pixel == "X":
                image.put("#8a6d00", to=(x, y))
    return image
