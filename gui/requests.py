"""The one path every request of the window takes, and the one wording of its failures.

A controller hands `Requests.run` the client call and says where its outcome is shown; the call runs on the
worker (never blocking Tk), the answer comes back on the Tk thread. A request that got no answer keeps
everything typed and offers Retry; a session that ended brings the login dialog back (`session_ended`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from api.client import ApiClient, ApiError, ClientError, SessionExpired, Unreachable
from gui.views.statusbar import StatusBar
from gui.widgets import Message
from gui.worker import Worker


class Requests:
    def __init__(self, worker: Worker, client: ApiClient, status: StatusBar, login_message: Message,
                 session_ended: Callable[[str], None]) -> None:
        self.worker = worker
        self.client = client
        self.status = status
        self.login_message = login_message  # a failure worded there is the login's own: no relogin over it
        self.session_ended = session_ended
        self._retry: Callable[[], None] | None = None
        status.bind("<<Retry>>", lambda _e: self.retry())

    def run(self, name: str, fn: Callable[..., Any], *args: Any, done: Callable[[Any], None] | None = None,
            message: Message | None = None, retry: Callable[[], None] | None = None,
            always: Callable[[], None] | None = None, missing: Callable[[], None] | None = None,
            refused: Callable[[], None] | None = None, background: bool = False, quiet: bool = False,
            **kwargs: Any) -> None:
        """Send one request off the UI thread; show its outcome where the person is looking.

        `always` runs first on either outcome; `missing` when the server answers 404 and `refused` on any
        failure, both before the failure is worded (to clear what described the previous answer, or to give
        a button back). A `background` request is the window's own (a token refresh, the login): its answer
        leaves the status bar alone. A `quiet` one is best effort (a client event, the status list): its
        failure is dropped, never worded nor posted."""

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
        """Word a failure for a person; the typed content is never touched here."""
        if isinstance(error, SessionExpired) and message is not self.login_message:
            self.session_ended(str(error))
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

    def forget(self) -> None:
        """The session ended: its pending Retry goes with it."""
        self._retry = None

    def client_event(self, level: str, text: str) -> None:
        """Post a client event to the server's log (component gui); best effort, never in the way."""
        if self.client.session is not None:
            self.run("log", self.client.post_log, level, text, quiet=True)
