"""The controller: the main window, its menus and tabs, and what happens on each view's events.

Views announce intent (`<<SubmitOrder>>`), the controller reads what they hold, hands the request to the
worker (never blocking Tk), and shows the outcome in the view that asked. A request that got no answer
keeps everything typed and offers Retry; a session that ended brings the login dialog back over the window
with the window's content untouched.
"""

from __future__ import annotations

import gc
import time
import tkinter as tk
from collections.abc import Callable
from tkinter import font, ttk
from typing import Any

from api.client import ApiClient, ApiError, ClientError, Draft, SessionExpired, Unreachable
from api.reencryption import Plan, Step
from gui.views.admin import AdminView
from gui.views.login import LoginDialog
from gui.views.logs import LogsView
from gui.views.notes import NotesView
from gui.views.orders import OrderDialog, OrdersView
from gui.views.passwords import PasswordsView
from gui.views.statusbar import StatusBar
from gui.widgets import Message
from gui.worker import Worker

CLIPBOARD_CLEAR_MS = 30_000
ORDERS_PER_PAGE = 20
STATUS_TICK_MS = 1000


class Application(tk.Tk):
    def __init__(self, api_url: str, client: ApiClient | None = None,
                 clipboard_clear_ms: int = CLIPBOARD_CLEAR_MS) -> None:
        super().__init__(className="Strongroom")
        self.client = client or ApiClient(api_url)
        self.worker = Worker(self)
        self.me: dict[str, Any] = {}
        self.clipboard_clear_ms = clipboard_clear_ms
        self._clipboard_value: str | None = None
        self._retry: Callable[[], None] | None = None
        self._refreshing = False
        self._ticks = 0
        self._order_draft, self._note_draft, self._password_draft = Draft(), Draft(), Draft()
        self._order_cursors: list[str | None] = [None]
        self._orders_page = 0
        self._focus_before: tk.Misc | None = None
        self._saved_passwords: dict[int, str] = {}
        self.order_dialog: OrderDialog | None = None

        self.title("Strongroom")
        self.geometry("980x680")
        self.minsize(760, 520)
        self._style()
        self._menus()
        self.notebook = ttk.Notebook(self)
        self.orders = OrdersView(self.notebook)
        self.notes = NotesView(self.notebook)
        self.passwords = PasswordsView(self.notebook)
        self.logs = LogsView(self.notebook)
        self.admin: AdminView | None = None
        for view, title in ((self.orders, "Orders"), (self.notes, "Notes"), (self.passwords, "Passwords"),
                            (self.logs, "Logs")):
            self.notebook.add(view, text=title, underline=0)
        self.notebook.enable_traversal()
        self.status = StatusBar(self, self.client.base_url)
        self.status.pack(side="bottom", fill="x")
        self.notebook.pack(fill="both", expand=True)
        self.login_dialog = LoginDialog(self, self.client.base_url)
        self._wire()
        self.protocol("WM_DELETE_WINDOW", self.quit_app)
        self.after(STATUS_TICK_MS, self._tick)
        self.after_idle(self.login_dialog.show)

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
        bar = tk.Menu(self)
        session = tk.Menu(bar, tearoff=False)
        session.add_command(label="Log out", accelerator="Ctrl+L", command=self.logout)
        session.add_separator()
        session.add_command(label="Quit", accelerator="Ctrl+Q", command=self.quit_app)
        bar.add_cascade(label="Session", menu=session, underline=0)
        view = tk.Menu(bar, tearoff=False)
        view.add_command(label="New order", accelerator="Ctrl+N", command=self._new_order)
        view.add_command(label="Refresh", accelerator="F5", command=self._refresh_current)
        view.add_separator()
        for n, name in enumerate(("Orders", "Notes", "Passwords", "Logs", "Admin"), start=1):
            view.add_command(label=name, accelerator=f"Ctrl+{n}", command=lambda i=n - 1: self._select_tab(i))
        bar.add_cascade(label="View", menu=view, underline=0)
        self.configure(menu=bar)
        self.bind_all("<Control-q>", lambda _e: self.quit_app())
        self.bind_all("<Control-l>", lambda _e: self.logout())
        self.bind_all("<Control-n>", lambda _e: self._new_order())
        self.bind_all("<F5>", lambda _e: self._refresh_current())
        for n in range(1, 6):
            self.bind_all(f"<Control-Key-{n}>", lambda _e, i=n - 1: self._select_tab(i))

    def _select_tab(self, index: int) -> None:
        if index < len(self.notebook.tabs()):
            self.notebook.select(index)

    def _new_order(self) -> None:
        self.notebook.select(self.orders)
        self.orders.description.focus_set()

    def _refresh_current(self) -> None:
        current = self.nametowidget(self.notebook.select()) if self.notebook.select() else None
        event = {self.orders: "<<RefreshOrders>>", self.notes: "<<RefreshNotes>>",
                 self.passwords: "<<RefreshSites>>", self.logs: "<<RefreshLogs>>"}.get(current)  # type: ignore
        if current is not None and current is self.admin:
            event = "<<RefreshAdmin>>"
        if event and current is not None:
            current.event_generate(event)

    def _wire(self) -> None:
        d = self.login_dialog
        d.bind("<<Login>>", lambda _e: self.login())
        d.bind("<<Register>>", lambda _e: self.register())
        d.bind("<<Quit>>", lambda _e: self.quit_app())
        o = self.orders
        o.bind("<<SubmitOrder>>", lambda _e: self.submit_order())
        o.bind("<<RefreshOrders>>", lambda _e: self.load_orders(0))
        o.bind("<<NextPage>>", lambda _e: self.load_orders(self._orders_page + 1))
        o.bind("<<PreviousPage>>", lambda _e: self.load_orders(max(self._orders_page - 1, 0)))
        o.bind("<<OpenOrder>>", lambda _e: self.open_order())
        n = self.notes
        n.bind("<<RefreshNotes>>", lambda _e: self.load_notes())
        n.bind("<<OpenNote>>", lambda _e: self.open_note())
        n.bind("<<NewNote>>", lambda _e: (n.show_note(None), n.title.focus_set()))
        n.bind("<<SaveNote>>", lambda _e: self.save_note())
        n.bind("<<DeleteNote>>", lambda _e: self.delete_note())
        p = self.passwords
        p.bind("<<GeneratePassword>>", lambda _e: self.generate_password())
        p.bind("<<CopyPassword>>", lambda _e: self.copy_secret(p.password.get_value()))
        p.bind("<<CopySaved>>", lambda _e: self.copy_saved_password())
        p.bind("<<SavePassword>>", lambda _e: self.save_password())
        p.bind("<<LookupPassword>>", lambda _e: self.lookup_password())
        p.bind("<<RefreshSites>>", lambda _e: self.load_sites())
        p.bind("<<DeletePassword>>", lambda _e: self.delete_password())
        self.logs.bind("<<RefreshLogs>>", lambda _e: self.load_logs())
        self.status.bind("<<Retry>>", lambda _e: self.retry())
        self.notebook.bind("<<NotebookTabChanged>>", lambda _e: self._tab_changed())

    # -- plumbing -----------------------------------------------------------------------------------

    def run(self, name: str, fn: Callable[..., Any], *args: Any, done: Callable[[Any], None] | None = None,
            message: Message | None = None, retry: Callable[[], None] | None = None,
            always: Callable[[], None] | None = None, missing: Callable[[], None] | None = None,
            refused: Callable[[], None] | None = None, background: bool = False, quiet: bool = False,
            **kwargs: Any) -> None:
        """Send one request off the UI thread; show its outcome where the person is looking.

        The one path every request of the window takes. `always` runs first on either outcome; `missing`
        when the server answers 404 and `refused` on any failure, both before the failure is worded (to
        clear what described the previous answer, or to give a button back). A `background` request is the
        window's own (a token refresh): its answer leaves the status bar alone. A `quiet` one is best effort
        (a client event, the status list): its failure is dropped, never worded nor posted."""

        def on_done(result: Any) -> None:
            if always:
                always()
            if not (background or quiet):
                self.status.show_server(True)
                self._retry = None
            if done:
                done(result)

        def on_error(error: BaseException) -> None:
            if always:
                always()
            if missing and isinstance(error, ApiError) and error.status == 404:
                missing()
            if refused:
                refused()
            if not quiet:
                self.failed(name, error, message, retry)

        self.worker.submit(name, fn, *args, on_done=on_done, on_error=on_error, **kwargs)

    def failed(self, name: str, error: BaseException, message: Message | None,
               retry: Callable[[], None] | None) -> None:
        """Word a failure for a person (the one wording of every request's failure); the typed content is
        never touched here."""
        if isinstance(error, SessionExpired) and message is not self.login_dialog.message:
            self.relogin(str(error))
            return
        if isinstance(error, Unreachable):
            self._retry = retry
            self.status.show_server(False, retry=retry is not None)
            text = (f"Server unreachable: {error} What you typed is kept"
                    + ("; press Retry when it is back." if retry else "."))
        elif isinstance(error, ApiError):
            text = str(error)
            fields = error.field_errors
            if fields and not error.detail:
                text = "; ".join(fields)
            if error.status == 401 and error.code in ("", "bad_credentials"):
                text = "Wrong username or password."
            elif error.status == 429 and error.retry_after:
                until = time.strftime("%H:%M:%S", time.localtime(time.time() + error.retry_after))
                text = f"{error.detail or 'Too many attempts.'} Try again after {until}."
            # A miss (nothing saved for that site, a note deleted meanwhile) is ordinary: INFO, not a warning.
            level = "INFO" if error.status == 404 else "WARNING"
            self.client_event(level, f"{name} refused: {error.status} {error.code}".strip())
        elif isinstance(error, ClientError):
            text = str(error)
        else:
            text = f"Something went wrong ({type(error).__name__}); what you typed is kept."
            self.client_event("ERROR", f"{name} failed: {type(error).__name__}")
        if message is not None and message.winfo_exists():
            message.say(text, error=True)

    def retry(self) -> None:
        action, self._retry = self._retry, None
        self.status.show_server(True)
        if action:
            action()

    def client_event(self, level: str, text: str) -> None:
        """Post a client event to the server's log (component gui); best effort, never in the way."""
        if self.client.session is not None:
            self.run("log", self.client.post_log, level, text, quiet=True)

    def _tick(self) -> None:
        """Once a second: show the token's time left, and refresh it silently when it runs low."""
        self._ticks += 1
        if not gc.isenabled():  # see gui.__main__: garbage is collected here, on the Tk thread
            gc.collect(2 if self._ticks % 30 == 0 else 0)
        session = self.client.session
        self.status.show_token(session.seconds_left if session else None)
        if session is not None and not self._refreshing and self.client.needs_refresh(session):
            self._refreshing = True

            def settled(*_: Any) -> None:
                self._refreshing = False

            self.run("refresh", self.client.refresh, always=settled, background=True)
        self.after(STATUS_TICK_MS, self._tick)

    # -- session ------------------------------------------------------------------------------------

    def login(self) -> None:
        d = self.login_dialog
        username, password = d.credentials()
        if not username or not password:
            d.message.say("Enter your username and password.", error=True)
            return
        d.set_busy(True)
        d.message.say("")

        def with_me() -> dict[str, Any]:
            self.client.login(username, password)
            return dict(self.client.me())

        self.run("login", with_me, done=self.logged_in, message=d.message, always=lambda: d.set_busy(False),
                 background=True)

    def register(self) -> None:
        d = self.login_dialog
        username, password = d.credentials()
        if not username or not password:
            d.message.say("Choose a username and a password.", error=True)
            return
        d.set_busy(True)

        def created(_: Any) -> None:
            d.message.say("Account created: logging in…")
            self.login()

        self.run("register", self.client.register, username, password, d.email.get_value() or None, done=created,
                 message=d.message, always=lambda: d.set_busy(False), background=True)

    def logged_in(self, me: dict[str, Any]) -> None:
        previous = self.me.get("username")
        if previous and previous != me.get("username"):  # someone else took over after an expiry
            self.forget_session()
        self.me = me
        self.login_dialog.hide()
        self.status.show_user(str(me.get("username", "")), str(me.get("role", "")))
        self.status.show_server(True)
        self._show_admin(me.get("role") == "admin")
        self.logs.scope.configure(text="Everyone's events" if me.get("role") in ("admin", "auditor")
                                  else "Your events")
        self.client_event("INFO", "login")
        admin = me.get("role") == "admin"
        self.orders.show_owner(admin)
        if admin:  # an admin sees everyone's orders: the owner column shows names, from the users list
            def named(users: list[dict[str, Any]]) -> None:
                self.orders.owners = {int(u["user_id"]): str(u["username"]) for u in users}
                self.load_orders(self._orders_page)

            self.run("list users", self.client.list_users, done=named, message=self.orders.message)
        if previous != me.get("username"):
            self.load_orders(0)
        self.run("order statuses", self.client.order_statuses, quiet=True,
                 done=lambda rows: self.orders.offer_statuses([str(r["status"]) for r in rows if r.get("may_create")]))
        before, self._focus_before = self._focus_before, None
        target = before if before is not None and before.winfo_exists() else self.orders.description
        target.focus_set()

    def relogin(self, reason: str) -> None:
        """The session ended: the login dialog comes back over the window; everything typed stays."""
        if self.login_dialog.shown:
            return
        self.status.show_token(None)
        self._focus_before = self.focus_get()
        self.login_dialog.show(reason)

    def logout(self) -> None:
        if self.client.session is None:
            return

        def end() -> None:  # after the event is recorded: it needs the session being ended
            self.run("logout", self.client.logout, always=self._logged_out, quiet=True)

        self.run("log", self.client.post_log, "INFO", "logout", always=end, quiet=True)

    def forget_session(self) -> None:
        """Everything one user's session put on screen or typed goes: a shared workstation shows the next
        user nothing of the previous one. (After an expiry the same user logging in again keeps it all.)"""
        for view in (self.orders, self.notes, self.passwords, self.logs):
            view.forget()
        self.orders.owners = {}
        self.orders.show_owner(False)
        self._saved_passwords.clear()
        self._order_draft, self._note_draft, self._password_draft = Draft(), Draft(), Draft()
        self._order_cursors, self._orders_page = [None], 0
        self._retry = None
        self._focus_before = None
        if self.order_dialog is not None and self.order_dialog.winfo_exists():
            self.order_dialog.destroy()
        self.login_dialog.password.set_value("")

    def _logged_out(self) -> None:
        self.me = {}
        self.status.show_user("", "")
        self._show_admin(False)
        self.forget_session()
        self.login_dialog.heading.configure(text="Log in to Strongroom")
        self.login_dialog.message.say("")
        self.login_dialog.show()

    def quit_app(self) -> None:
        self.worker.close()
        for pending in self.tk.splitlist(self.tk.call("after", "info")):
            self.after_cancel(pending)  # timers of this window must not fire into a destroyed one
        self.destroy()

    def _show_admin(self, admin: bool) -> None:
        if admin and self.admin is None:
            self.admin = AdminView(self.notebook)
            self.notebook.add(self.admin, text="Admin", underline=0)
            a = self.admin
            a.bind("<<RefreshAdmin>>", lambda _e: self.load_admin())
            a.bind("<<RotateKey>>", lambda _e: self.rotate_key())
            a.bind("<<Reencrypt>>", lambda _e: self.reencrypt())
            a.bind("<<RetireKey>>", lambda _e: self.retire_key())
            a.bind("<<UserAction>>", lambda _e: self.user_action())
            a.bind("<<SetRole>>", lambda _e: self.set_role())
        elif not admin and self.admin is not None:
            self.notebook.forget(self.admin)
            self.admin.destroy()
            self.admin = None

    def _tab_changed(self) -> None:
        if self.client.session is None or not self.notebook.select():
            return
        current = self.nametowidget(self.notebook.select())
        if current is self.notes:
            self.load_notes()
        elif current is self.passwords:
            self.load_sites()
        elif current is self.logs:
            self.load_logs()
        elif current is self.admin:
            self.load_admin()

    # -- orders -------------------------------------------------------------------------------------

    def submit_order(self) -> None:
        view = self.orders
        if view.submit.is_busy:
            return  # the first click's request is on its way; this one would be the same order
        form = view.form()
        if not form["description"]:
            view.message.say("Describe the order first.", error=True)
            view.description.focus_set()
            return
        key = self._order_draft.key_for(form)
        view.submit.set_busy(True)
        view.message.say("")

        def saved(order: dict[str, Any]) -> None:
            self._order_draft.confirmed(form)
            if view.form() == form:  # what was typed meanwhile is the next order: keep it
                view.clear_form()
            lock = " (encrypted)" if form["encrypt"] else ""
            view.message.say(f"Order #{order.get('id')} saved{lock} as {order.get('status')}.")
            self.client_event("INFO", f"order {order.get('id')} submitted")
            self.load_orders(0)

        self.run("submit order", self.client.create_order, form["description"], form["status"], form["encrypt"],
                 key, done=saved, message=view.message, retry=self.submit_order,
                 always=lambda: view.submit.set_busy(False))

    def load_orders(self, page: int) -> None:
        if self.client.session is None:
            return
        if page == 0:
            self._order_cursors = [None]
        page = min(page, len(self._order_cursors) - 1)
        cursor = self._order_cursors[page]

        def shown(answer: tuple[list[dict[str, Any]], str | None]) -> None:
            rows, next_cursor = answer
            self._orders_page = page
            del self._order_cursors[page + 1:]
            if next_cursor:
                self._order_cursors.append(next_cursor)
            self.orders.show_orders(rows, page, has_next=next_cursor is not None)

        self.run("list orders", self.client.list_orders, self.orders.status_filter(), ORDERS_PER_PAGE, cursor,
                 done=shown, message=self.orders.message, retry=lambda: self.load_orders(page))

    def open_order(self) -> None:
        order_id = self.orders.selected_order()
        if order_id is None:
            return

        def fetch() -> tuple[dict[str, Any], list[dict[str, Any]]]:
            return self.client.get_order(order_id), self.client.order_history(order_id)

        def opened(answer: tuple[dict[str, Any], list[dict[str, Any]]]) -> None:
            if self.order_dialog is not None and self.order_dialog.winfo_exists():
                self.order_dialog.destroy()
            dialog = self.order_dialog = OrderDialog(self, *answer)
            dialog.bind("<<ChangeStatus>>", lambda _e: self.change_status(dialog))
            dialog.bind("<Destroy>", lambda e: self._order_dialog_closed() if e.widget is dialog else None)

        self.run("open order", fetch, done=opened, message=self.orders.message, retry=self.open_order)

    def _order_dialog_closed(self) -> None:
        """Closing the order dialog gives the keyboard back to the orders table (else it goes nowhere)."""
        self.order_dialog = None
        tree = self.orders.table.tree
        if tree.winfo_exists():
            tree.focus_set()

    def change_status(self, dialog: OrderDialog) -> None:
        status = dialog.status.get()
        dialog.apply.set_busy(True)

        def changed(_: Any) -> None:
            self.load_orders(self._orders_page)
            self.client_event("INFO", f"order {dialog.order_id} status {status}")
            if not dialog.winfo_exists():  # closed while the change was on its way
                return
            dialog.message.say(f"Status is now {status}.")
            self.run("history", self.client.order_history, dialog.order_id, message=dialog.message,
                     done=lambda h: dialog.winfo_exists() and dialog.show_history(h))

        self.run("change status", self.client.set_order_status, dialog.order_id, status, done=changed,
                 message=dialog.message, always=lambda: dialog.winfo_exists() and dialog.apply.set_busy(False))

    # -- notes --------------------------------------------------------------------------------------

    def load_notes(self) -> None:
        self.run("list notes", self.client.list_notes, done=self.notes.show_list, message=self.notes.message,
                 retry=self.load_notes)

    def open_note(self) -> None:
        note_id = self.notes.selected_note()
        if note_id is None or note_id == self.notes.note_id:
            return
        self.run("open note", self.client.get_note, note_id, done=self.notes.show_note, message=self.notes.message,
                 retry=self.open_note)

    def save_note(self) -> None:
        view = self.notes
        if view.save.is_busy:
            return
        title, content = view.values()
        if not title:
            view.message.say("Give the note a title.", error=True)
            return
        view.save.set_busy(True)

        def saved(note: dict[str, Any] | None) -> None:
            if view.note_id is None:
                self._note_draft.confirmed((title, content))
            if note and "id" in note:
                view.note_id = int(note["id"])
            view.message.say(f"Saved “{title}”.")
            self.load_notes()

        if view.note_id is None:
            key = self._note_draft.key_for((title, content))
            self.run("save note", self.client.create_note, title, content, key, done=saved, message=view.message,
                     retry=self.save_note, always=lambda: view.save.set_busy(False))
        else:
            self.run("save note", self.client.update_note, view.note_id, title, content, done=saved,
                     message=view.message, always=lambda: view.save.set_busy(False))

    def delete_note(self) -> None:
        view = self.notes
        if view.note_id is None:
            return
        note_id = view.note_id

        def deleted(_: Any) -> None:
            view.show_note(None)
            view.message.say("Note deleted.")
            self.load_notes()

        self.run("delete note", self.client.delete_note, note_id, done=deleted, message=view.message)

    # -- passwords ----------------------------------------------------------------------------------

    def generate_password(self) -> None:
        view = self.passwords
        length, classes, exclude = view.generator_options()
        if not classes:
            view.message.say("Pick at least one kind of character.", error=True)
            return
        view.generate.set_busy(True)

        def generated(password: str) -> None:
            view.password.set_value(password)
            view.message.say(f"Generated a {len(password)}-character password.")

        self.run("generate password", self.client.generate_password, length, classes, exclude, done=generated,
                 message=view.message, retry=self.generate_password, always=lambda: view.generate.set_busy(False))

    def copy_secret(self, secret: str) -> None:
        """Put a secret on the clipboard, and take it off again after a while unless replaced meanwhile."""
        if not secret:
            self.passwords.message.say("Nothing to copy.", error=True)
            return
        self.clipboard_clear()
        self.clipboard_append(secret)
        self._clipboard_value = secret
        self.after(self.clipboard_clear_ms, lambda: self._clear_clipboard(secret))
        seconds = self.clipboard_clear_ms // 1000
        self.passwords.message.say(f"Copied; the clipboard is cleared in {seconds} s.")

    def _clear_clipboard(self, secret: str) -> None:
        try:
            current = self.clipboard_get()
        except tk.TclError:
            current = None
        if current == secret and self._clipboard_value == secret:
            self.clipboard_clear()
            self.clipboard_append("")
            self._clipboard_value = None

    def copy_saved_password(self) -> None:
        chosen = self.passwords.selected_entry()
        if chosen is not None and chosen in self._saved_passwords:
            self.copy_secret(self._saved_passwords[chosen])

    def save_password(self) -> None:
        view = self.passwords
        if view.save.is_busy:
            return
        entry = view.saved_login()
        if not entry["website"] or not entry["password"]:
            view.message.say("A site and a password are needed.", error=True)
            return
        key = self._password_draft.key_for(entry)
        view.save.set_busy(True)

        def saved(_: Any) -> None:
            self._password_draft.confirmed(entry)
            view.password.set_value("")
            view.message.say(f"Saved the login for {entry['website']}.")
            self.client_event("INFO", "password saved")
            self.load_sites()

        self.run("save password", self.client.save_password, entry["website"], entry["login"], entry["password"],
                 key, done=saved, message=view.message, retry=self.save_password,
                 always=lambda: view.save.set_busy(False))

    def _show_saved(self, rows: list[dict[str, Any]]) -> None:
        self._saved_passwords = {int(r["id"]): str(r["password"]) for r in rows if r.get("password")}
        self.passwords.show_rows(rows)

    def lookup_password(self) -> None:
        site = self.passwords.lookup_site.get_value()
        if not site:
            self.load_sites()
            return
        view = self.passwords
        view.message.say("")  # "Saved ..." described the save, not this look-up

        def found(rows: list[dict[str, Any]]) -> None:
            self._show_saved(rows)
            view.message.say(f"{len(rows)} login{'' if len(rows) == 1 else 's'} saved for {site}.")

        self.run("look up password", self.client.lookup_password, site, done=found, message=view.message,
                 retry=self.lookup_password, missing=lambda: self._show_saved([]))  # not the last site's rows

    def load_sites(self) -> None:
        self.run("list sites", self.client.list_sites, done=self._show_saved, message=self.passwords.message,
                 retry=self.load_sites)

    def delete_password(self) -> None:
        chosen = self.passwords.selected_entry()
        if chosen is None:
            return
        def deleted(_: Any) -> None:  # the row leaves the table; looking the site up again would say "nothing"
            tree = self.passwords.table.tree
            if tree.exists(str(chosen)):
                tree.delete(str(chosen))
            self._saved_passwords.pop(chosen, None)
            self.passwords.message.say("Login deleted.")

        self.run("delete password", self.client.delete_password, chosen, done=deleted,
                 message=self.passwords.message)

    # -- logs ---------------------------------------------------------------------------------------

    def load_logs(self) -> None:
        if self.client.session is None:
            return
        chosen = self.logs.filters()
        self.run("list logs", self.client.list_logs, chosen["level"], component=chosen["component"],
                 user=chosen["user"], api_calls=chosen["api_calls"],
                 done=lambda answer: self.logs.show_logs(answer[0]), message=self.logs.message,
                 retry=self.load_logs)

    # -- administration -----------------------------------------------------------------------------

    def load_admin(self) -> None:
        admin = self.admin
        if admin is None:
            return
        self.run("list keys", self.client.list_keys, done=admin.show_keys, message=admin.message,
                 retry=self.load_admin)
        self.run("list users", self.client.list_users, done=admin.show_users, message=admin.message)

    def rotate_key(self) -> None:
        admin = self.admin
        if admin is None:
            return
        admin.rotate.set_busy(True)

        def rotated(key: Any) -> None:
            new = f" #{key['new_key_id']}" if isinstance(key, dict) and key.get("new_key_id") else ""
            admin.message.say(f"Rotated: new active key{new}. Re-encrypt to move old rows to it.")
            self.client_event("INFO", "key rotated")
            self.load_admin()

        self.run("rotate key", self.client.rotate_key, done=rotated, message=admin.message,
                 always=lambda: admin.rotate.set_busy(False))

    def reencrypt(self) -> None:
        """One batch per request, as api/reencryption.py's Plan says, moving the progress bar after each."""
        admin = self.admin
        if admin is None or admin.reencrypt.is_busy:
            return
        admin.reencrypt.set_busy(True)
        plan = Plan()

        def submit() -> None:
            step = plan.next()
            if step is None:
                admin.reencrypt.set_busy(False)
                admin.message.say("Re-encryption finished: every row uses the active key.")
                self.client_event("INFO", "re-encryption finished")
                self.load_admin()
                return
            self.run("re-encrypt", self.client.reencrypt_step, step, done=lambda answer: progressed(step, answer),
                     message=admin.message, retry=self.reencrypt, refused=lambda: admin.reencrypt.set_busy(False))

        def progressed(step: Step, answer: tuple[int, int | None]) -> None:
            progress = plan.record(step, *answer)
            if progress.total is not None:
                admin.show_progress(progress.moved, progress.total, progress.rows_left or 0)
            if admin.winfo_exists():
                submit()

        submit()

    def retire_key(self) -> None:
        admin = self.admin
        key = admin.selected_key() if admin else None
        if admin is None or key is None:
            return
        self.run("retire key", self.client.retire_key, key,
                 done=lambda _r: (admin.message.say(f"Key #{key} retired."), self.load_admin()),
                 message=admin.message)

    def user_action(self) -> None:
        admin = self.admin
        user = admin.selected_user() if admin else None
        if admin is None or user is None:
            if admin is not None:
                admin.message.say("Select a user first.", error=True)
            return
        action = admin.user_action
        self.run(f"{action} user", self.client.user_action, user, action,
                 done=lambda _r: (admin.message.say(f"User #{user}: {action} done."), self.load_admin()),
                 message=admin.message)

    def set_role(self) -> None:
        admin = self.admin
        user = admin.selected_user() if admin else None
        if admin is None or user is None:
            return
        role = admin.role.get()
        self.run("set role", self.client.set_user_role, user, role,
                 done=lambda _r: (admin.message.say(f"User #{user} is now {role}."), self.load_admin()),
                 message=admin.message)
