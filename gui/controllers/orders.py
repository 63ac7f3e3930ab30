"""The Orders tab: submit an order (once, whatever the clicks), page through the list, open one, change its
status; an admin's list names each order's owner."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from api.client import Draft
from gui.controllers import Controller
from gui.views.orders import OrderDialog, OrdersView

if TYPE_CHECKING:
    from gui.app import Application

ORDERS_PER_PAGE = 20


class OrdersController(Controller):
    refresh_event = "<<RefreshOrders>>"

    def __init__(self, app: Application, view: OrdersView) -> None:
        super().__init__(app, view)
        self.dialog: OrderDialog | None = None
        self._draft = Draft()
        self._cursors: list[str | None] = [None]
        self._page = 0
        view.bind("<<SubmitOrder>>", lambda _e: self.submit_order())
        view.bind("<<RefreshOrders>>", lambda _e: self.load_orders(0))
        view.bind("<<NextPage>>", lambda _e: self.load_orders(self._page + 1))
        view.bind("<<PreviousPage>>", lambda _e: self.load_orders(max(self._page - 1, 0)))
        view.bind("<<OpenOrder>>", lambda _e: self.open_order())

    def new_order(self) -> None:
        self.app.notebook.select(self.view)
        self.view.description.focus_set()

    def began(self, me: dict[str, Any], previous: str | None) -> None:
        admin = me.get("role") == "admin"
        self.view.show_owner(admin)
        if admin:  # an admin sees everyone's orders: the owner column shows names, from the users list
            def named(users: list[dict[str, Any]]) -> None:
                self.view.owners = {int(u["user_id"]): str(u["username"]) for u in users}
                self.load_orders(self._page)

            self.run("list users", self.client.list_users, done=named, message=self.view.message)
        if previous != me.get("username"):
            self.load_orders(0)
        self.run("order statuses", self.client.order_statuses, quiet=True,
                 done=lambda rows: self.view.offer_statuses([str(r["status"]) for r in rows
                                                              if r.get("may_create")]))

    def forget(self) -> None:
        self.view.forget()
        self.view.owners = {}
        self.view.show_owner(False)
        self._draft = Draft()
        self._cursors, self._page = [None], 0
        if self.dialog is not None and self.dialog.winfo_exists():
            self.dialog.destroy()

    def submit_order(self) -> None:
        view = self.view
        if view.submit.is_busy:
            return  # the first click's request is on its way; this one would be the same order
        form = view.form()
        if not form["description"]:
            view.message.say("Describe the order first.", error=True)
            view.description.focus_set()
            return
        key = self._draft.key_for(form)
        view.submit.set_busy(True)
        view.message.say("")

        def saved(order: dict[str, Any]) -> None:
            self._draft.confirmed(form)
            if view.form() == form:  # what was typed meanwhile is the next order: keep it
                view.clear_form()
            lock = " (encrypted)" if form["encrypt"] else ""
            view.message.say(f"Order #{order.get('id')} saved{lock} as {order.get('status')}.")
            self.requests.client_event("INFO", f"order {order.get('id')} submitted")
            self.load_orders(0)

        self.run("submit order", self.client.create_order, form["description"], form["status"], form["encrypt"],
                 key, done=saved, message=view.message, retry=self.submit_order,
                 always=lambda: view.submit.set_busy(False))

    def load_orders(self, page: int) -> None:
        if self.client.session is None:
            return
        if page == 0:
            self._cursors = [None]
        page = min(page, len(self._cursors) - 1)
        cursor = self._cursors[page]

        def shown(answer: tuple[list[dict[str, Any]], str | None]) -> None:
            rows, next_cursor = answer
            self._page = page
            del self._cursors[page + 1:]
            if next_cursor:
                self._cursors.append(next_cursor)
            self.view.show_orders(rows, page, has_next=next_cursor is not None)

        self.run("list orders", self.client.list_orders, self.view.status_filter(), ORDERS_PER_PAGE, cursor,
                 done=shown, message=self.view.message, retry=lambda: self.load_orders(page))

    def open_order(self) -> None:
        order_id = self.view.selected_order()
        if order_id is None:
            return

        def fetch() -> tuple[dict[str, Any], list[dict[str, Any]]]:
            return self.client.get_order(order_id), self.client.order_history(order_id)

        def opened(answer: tuple[dict[str, Any], list[dict[str, Any]]]) -> None:
            if self.dialog is not None and self.dialog.winfo_exists():
                self.dialog.destroy()
            dialog = self.dialog = OrderDialog(self.app, *answer)
            dialog.bind("<<ChangeStatus>>", lambda _e: self.change_status(dialog))
            dialog.bind("<Destroy>", lambda e: self._dialog_closed() if e.widget is dialog else None)

        self.run("open order", fetch, done=opened, message=self.view.message, retry=self.open_order)

    def _dialog_closed(self) -> None:
        """Closing the order dialog gives the keyboard back to the orders table (else it goes nowhere)."""
        self.dialog = None
        tree = self.view.table.tree
        if tree.winfo_exists():
            tree.focus_set()

    def change_status(self, dialog: OrderDialog) -> None:
        status = dialog.status.get()
        dialog.apply.set_busy(True)

        def changed(_: Any) -> None:
            self.load_orders(self._page)
            self.requests.client_event("INFO", f"order {dialog.order_id} status {status}")
            if not dialog.winfo_exists():  # closed while the change was on its way
                return
            dialog.message.say(f"Status is now {status}.")
            self.run("history", self.client.order_history, dialog.order_id, message=dialog.message,
                     done=lambda h: dialog.winfo_exists() and dialog.show_history(h))

        self.run("change status", self.client.set_order_status, dialog.order_id, status, done=changed,
                 message=dialog.message, always=lambda: dialog.winfo_exists() and dialog.apply.set_busy(False))
