"""One controller per tab (and one for the session): it binds its view's events, owns its commands and the
requests they make (all through `gui.requests.Requests.run`), and forgets its session's state on logout.
`gui.app.Application` only assembles them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gui.app import Application


class Controller:
    """What the window asks of every controller; each hook does nothing unless the tab needs it."""

    refresh_event = ""  # the view's virtual event that F5 sends when this tab is in front

    def __init__(self, app: Application, view: Any) -> None:
        self.app = app
        self.view = view  # the tab's view (the session's: the login dialog); None while the tab is not there
        self.client = app.client
        self.requests = app.requests
        self.run = app.requests.run

    def shown(self) -> None:
        """The tab came to the front while logged in."""

    def began(self, me: dict[str, Any], previous: str | None) -> None:
        """Someone logged in (`previous` is who was before, if the session had expired)."""

    def forget(self) -> None:
        """Everything of the session that ended leaves the tab."""
