"""The main window: it assembles the views, their controllers and the one request path, and holds the
menus, the keyboard shortcuts and the once-a-second tick.

Views (gui/views/) announce intent (`<<SubmitOrder>>`); the tab's controller (gui/controllers/) reads what
the view holds and sends the request through `gui.requests.Requests.run`, the one path to the server (on
the worker, never blocking Tk), which shows the outcome in the view that asked and words every failure
the same way. A request that got no answer keeps everything typed and offers Retry; a session that ended
brings the login dialog back over the window with the window's content untouched.
"""

from __future__ import annotations

import gc
import tkinter as tk
from tkinter import font, ttk
from typing import Any

from api.client import ApiClient
from gui.controllers import Controller
from gui.controllers.admin import AdminController
from gui.controllers.entries import EntriesController
from gui.controllers.logs import LogsController
from gui.controllers.orders import OrdersController
from gui.controllers.passwords import CLIPBOARD_CLEAR_MS, PasswordsController
from gui.controllers.session import SessionController
from gui.requests import Requests
from gui.views.admin import AdminView
from gui.views.entries import EntriesView
from gui.views.login import LoginDialog
from gui.views.logs import LogsView
from gui.views.orders import OrderDialog, OrdersView
from gui.views.passwords import PasswordsView
from gui.views.statusbar import StatusBar
from gui.worker import Worker

STATUS_TICK_MS = 1000


class Application(tk.Tk):
    def __init__(self, api_url: str, client: ApiClient | None = None,
                 clipboard_clear_ms: int = CLIPBOARD_CLEAR_MS) -> None:
        super().__init__(className="Strongroom")
        self.client = client or ApiClient(api_url)
        self.worker = Worker(self)
        self._ticks = 0

        self.title("Strongroom")
        self.geometry("980x680")
        self.minsize(760, 520)
        self._style()
        self.notebook = ttk.Notebook(self)
        self.orders = OrdersView(self.notebook)
        self.entries = EntriesView(self.notebook)
        self.passwords = PasswordsView(self.notebook)
        self.logs = LogsView(self.notebook)
        for view, title in ((self.orders, "Orders"), (self.entries, "Notes"), (self.passwords, "Passwords"),
                            (self.logs, "Logs")):
            self.notebook.add(view, text=title, underline=0)
        self.notebook.enable_traversal()
        self.status = StatusBar(self, self.client.base_url)
        self.status.pack(side="bottom", fill="x")
        self.notebook.pack(fill="both", expand=True)
        self.login_dialog = LoginDialog(self, self.client.base_url)

        self.requests = Requests(self.worker, self.client, self.status, self.login_dialog.message,
                                 session_ended=lambda reason: self.session.relogin(reason))
        self.orders_controller = OrdersController(self, self.orders)
        self.entries_controller = EntriesController(self, self.entries)
        self.passwords_controller = PasswordsController(self, self.passwords, clipboard_clear_ms)
        self.logs_controller = LogsController(self, self.logs)
        self.admin_controller = AdminController(self)
        self.tabs: list[Controller] = [self.orders_controller, self.entries_controller, self.passwords_controller,
                                       self.logs_controller, self.admin_controller]
        self.session = SessionController(self, self.login_dialog, self.tabs)

        self._menus()
        self.notebook.bind("<<NotebookTabChanged>>", lambda _e: self._tab_changed())
        self.protocol("WM_DELETE_WINDOW", self.quit_app)
        self.after(STATUS_TICK_MS, self._tick)
        self.after_idle(self.login_dialog.show)

    @property
    def me(self) -> dict[str, Any]:
        """Who is logged in (the API's /me), empty when nobody is."""
        return self.session.me

    @property
    def admin(self) -> AdminView | None:
        return self.admin_controller.view

    @property
    def order_dialog(self) -> OrderDialog | None:
        return self.orders_controller.dialog

    # -- look and feel ------------------------------------------------------------------------------

    def _style(self) -> None:
        style = ttk.Style(self)
        if "clam" in style.theme_names():
            style.theme_use("clam")
        base = font.nametofont("TkDefaultFont")
        base.configure(size=10)
        font.nametofont("TkTextFont").configure(size=10)
        heading = base.copy()
        heading.configure(size=11, weight="bold")
        self._heading_font = heading
        style.configure("Heading.TLabel", font=heading)
        style.configure("Dim.TLabel", foreground="#555555")
        style.configure("Status.TFrame", background="#e8e8e8")
        style.configure("Status.TLabel", background="#e8e8e8")
        style.configure("Treeview", rowheight=22)
        style.configure("Horizontal.TProgressbar", background="#2e7d32", troughcolor="#f0f0f0")

    def _menus(self) -> None:
        logout, new_order = self.session.logout, self.orders_controller.new_order
        bar = tk.Menu(self)
        session = tk.Menu(bar, tearoff=False)
        session.add_command(label="Log out", accelerator="Ctrl+L", command=logout)
        session.add_separator()
        session.add_command(label="Quit", accelerator="Ctrl+Q", command=self.quit_app)
        bar.add_cascade(label="Session", menu=session, underline=0)
        view = tk.Menu(bar, tearoff=False)
        view.add_command(label="New order", accelerator="Ctrl+N", command=new_order)
        view.add_command(label="Refresh", accelerator="F5", command=self._refresh_current)
        view.add_separator()
        for n, name in enumerate(("Orders", "Notes", "Passwords", "Logs", "Admin"), start=1):
            view.add_command(label=name, accelerator=f"Ctrl+{n}", command=lambda i=n - 1: self._select_tab(i))
        bar.add_cascade(label="View", menu=view, underline=0)
        self.configure(menu=bar)
        self.bind_all("<Control-q>", lambda _e: self.quit_app())
        self.bind_all("<Control-l>", lambda _e: logout())
        self.bind_all("<Control-n>", lambda _e: new_order())
        self.bind_all("<F5>", lambda _e: self._refresh_current())
        for n in range(1, 6):
            self.bind_all(f"<Control-Key-{n}>", lambda _e, i=n - 1: self._select_tab(i))

    # -- tabs ---------------------------------------------------------------------------------------

    def _select_tab(self, index: int) -> None:
        if index < len(self.notebook.tabs()):
            self.notebook.select(index)

    def _current_tab(self) -> Controller | None:
        if not self.notebook.select():
            return None
        current = self.nametowidget(self.notebook.select())
        return next((tab for tab in self.tabs if tab.view is not None and tab.view is current), None)

    def _refresh_current(self) -> None:
        tab = self._current_tab()
        if tab is not None:
            tab.view.event_generate(tab.refresh_event)

    def _tab_changed(self) -> None:
        tab = self._current_tab()
        if self.client.session is not None and tab is not None:
            tab.shown()

    # -- the window's life --------------------------------------------------------------------------

    def _tick(self) -> None:
        """Once a second: collect garbage here, on the Tk thread (see gui.__main__), and keep the token fresh."""
        self._ticks += 1
        if not gc.isenabled():
            gc.collect(2 if self._ticks % 30 == 0 else 0)
        self.session.keep_fresh()
        self.after(STATUS_TICK_MS, self._tick)

    def quit_app(self) -> None:
        self.worker.close()
        for pending in self.tk.splitlist(self.tk.call("after", "info")):
            self.after_cancel(pending)  # timers of this window must not fire into a destroyed one
        self.destroy()
