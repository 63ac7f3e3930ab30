"""The Logs tab: events newest first, filtered by level, component and user; admins and auditors see
everyone's."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gui.controllers import Controller
from gui.views.logs import LogsView

if TYPE_CHECKING:
    from gui.app import Application


class LogsController(Controller):
    refresh_event = "<<RefreshLogs>>"

    def __init__(self, app: Application, view: LogsView) -> None:
        super().__init__(app, view)
        view.bind("<<RefreshLogs>>", lambda _e: self.load_logs())

    def shown(self) -> None:
        self.load_logs()

    def began(self, me: dict[str, Any], previous: str | None) -> None:
        self.view.scope.configure(text="Everyone's events" if me.get("role") in ("admin", "auditor")
                                   else "Your events")

    def forget(self) -> None:
        self.view.forget()

    def load_logs(self) -> None:
        if self.client.session is None:
            return
        view = self.view
        chosen = view.filters()
        self.run("list logs", self.client.list_logs, chosen["level"], component=chosen["component"],
                 user=chosen["user"], api_calls=chosen["api_calls"],
                 done=lambda answer: view.show_logs(answer[0]), message=view.message, retry=self.load_logs)
