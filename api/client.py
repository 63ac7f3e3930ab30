"""The HTTP client of the API (the desktop app speaks through it; so can scripts): the routes as typed methods.

It imports no tkinter, so it is tested alone against a real HTTP server. It keeps the tokens in memory only
(never on disk), except the device token each username's first login here returns (in `device_file` if given,
mode 0600): it lets no one in, it only tells the server that later attempts come from a device that has logged
in before, so strangers' failed logins cannot lock this device out. It refreshes the access token before it
expires and once more after a 401, and retries a request that never got an answer only when a retry cannot do
anything twice: reads, and creations that carry an `Idempotency-Key` (the same key on every attempt, so the
server answers the retry with the first response). Every failure reaches the caller as one of three exceptions
the UI can word for a person: `Unreachable` (no answer: server down, timeout), `SessionExpired` (log in
again), `ApiError` (the server said no, with its problem+json document in `.problem`).

From Python code or a notebook::

    from api.client import ApiClient

    with ApiClient("http://127.0.0.1:8000") as api:
        api.login("alice", "correct horse battery staple")
        api.create_order("20 boxes of A4 paper", encrypt=True)
        api.all_orders().to_frame()           # a pandas DataFrame (pip install 'strongroom[notebook]')

Lists come back as `Rows` (a list of dicts with `.to_frame()`). The client keeps nothing it received: a
decrypted secret (a note's content, a vault password) exists only in the object a method returns, and
`Rows.to_frame()` of vault sites never has a secret column.
"""

from __future__ import annotations

import contextlib
import json
import os
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit

import httpx

from api import reencryption, tls
from api.reencryption import Step

if TYPE_CHECKING:
    import pandas

DEFAULT_API = "http://127.0.0.1:8000"
LOG_LEVELS = ("DEBUG", "INFO", "NOTICE", "WARNING", "ERROR")

Json = Any

TIME_COLUMNS = frozenset({"at", "timestamp", "logged_at"})
"""Columns (besides every `*_at`) that `Rows.to_frame()` turns into timezone-aware datetimes."""
SECRET_COLUMNS = frozenset({"password", "secret", "content", "notes"})
"""Columns a `Rows.to_frame(secrets=False)` (the default for vault lists) leaves out."""


class ClientError(Exception):
    """Base of every failure the client reports; `str()` is a sentence for the user."""


class Unreachable(ClientError):
    """The server did not answer (refused, reset, timed out): the request may be retried."""


class UntrustedServer(ClientError):
    """The server's TLS certificate is not one this client trusts: no request was sent. Not retried."""


class SessionExpired(ClientError):
    """The session cannot go on (refresh refused, token revoked): the user must log in again."""


@dataclass
class ApiError(ClientError):
    """The server answered with an error (RFC 9457 problem+json where it could)."""

    status: int
    title: str
    detail: str = ""
    code: str = ""
    request_id: str = ""
    retry_after: int | None = None
    problem: Mapping[str, Json] = field(default_factory=dict)

    def __str__(self) -> str:
        text = self.detail or self.title or f"HTTP {self.status}"
        if self.retry_after:
            text += f" (try again in {self.retry_after} s)"
        return text

    @property
    def field_errors(self) -> list[str]:
        """Validation messages (FastAPI's `errors`/`detail` list), for showing inline."""
        items = self.problem.get("errors") or (self.problem.get("detail") if isinstance(
            self.problem.get("detail"), list) else [])
        return [str(item.get("msg", item)) if isinstance(item, Mapping) else str(item) for item in items]


@dataclass
class Session:
    """The tokens of one login, in memory only."""

    access_token: str
    refresh_token: str | None
    expires_at: float
    """`time.time()` at which the access token stops working."""
    lifetime: float = 900.0
    """The access token's lifetime in seconds, as the server said (`expires_in`)."""

    @property
    def seconds_left(self) -> float:
        return self.expires_at - time.time()


def new_idempotency_key() -> str:
    return str(uuid.uuid4())


class Draft:
    """The Idempotency-Key of a submission the server has not confirmed yet.

    The same body sent again (a double click, a retry after a timeout, Submit pressed after "server
    unreachable") gets the same key, so the server creates it once; an edited body is a new submission and
    gets a new key; once the server has confirmed, the next submission starts afresh.
    """

    def __init__(self) -> None:
        self._body: object = None
        self._key: str | None = None

    def key_for(self, body: object) -> str:
        if self._key is None or body != self._body:
            self._body, self._key = body, new_idempotency_key()
        return self._key

    def confirmed(self, body: object) -> None:
        if body == self._body:
            self._body, self._key = None, None


def _problem(response: httpx.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {"detail": body}
    detail = body.get("detail", "")
    retry = response.headers.get("Retry-After")
    return ApiError(
        status=response.status_code,
        title=str(body.get("title") or response.reason_phrase),
        detail=detail if isinstance(detail, str) else "",
        code=str(body.get("code") or body.get("type") or ""),
        request_id=str(body.get("request_id") or response.headers.get("X-Request-ID", "")),
        retry_after=int(retry) if retry and retry.isdigit() else None,
        problem=body,
    )


class Rows(list[dict[str, Json]]):
    """The rows of a list route: a plain list of dicts, plus `to_frame()` for notebooks."""

    def __init__(self, rows: Iterable[dict[str, Json]] = (), *, secrets: bool = True) -> None:
        super().__init__(rows)
        self.secrets = secrets
        """False for lists that must never carry a secret column into a DataFrame (vault sites)."""

    def to_frame(self) -> pandas.DataFrame:
        """A pandas DataFrame of the rows: time columns as UTC datetimes, `id` as the index when there is one.

        Needs pandas (`pip install 'strongroom[notebook]'`). Secret columns are left out of lists that hold
        none by contract (vault sites), so a frame shown in a notebook cannot reveal one by accident.
        """
        try:
            import pandas
        except ImportError:
            raise ImportError("Rows.to_frame() needs pandas: pip install 'strongroom[notebook]'") from None
        frame = pandas.DataFrame(list(self))
        if not self.secrets:
            frame = frame.drop(columns=[c for c in frame.columns if c in SECRET_COLUMNS])
        for column in frame.columns:
            if column in TIME_COLUMNS or str(column).endswith("_at"):
                frame[column] = pandas.to_datetime(frame[column], utc=True, format="ISO8601")
        if "id" in frame.columns and frame["id"].is_unique:
            frame = frame.set_index("id")
        return frame

    def _repr_html_(self) -> str | None:
        """Jupyter shows a list of rows as a table when pandas is there."""
        try:
            return str(self.to_frame()._repr_html_())
        except ImportError:
            return None


def _items(page: Json) -> tuple[Rows, str | None]:
    """A list route's answer as (rows, next cursor): a bare list, or a keyset page `{items, next}`."""
    if isinstance(page, list):
        return Rows(page), None
    cursor = page.get("next")
    return Rows(page.get("items") or []), str(cursor) if cursor is not None else None


class ApiClient:
    """One user's conversation with the API. Thread-safe: the UI's worker threads share one instance.

    `base_url` is the API's address; `timeout` bounds every request (seconds); `retries` is how many more
    times a request that never got an answer is sent when that is safe (reads, and creations with an
    Idempotency-Key). Use it as a context manager, or call `close()`.
    """

    def __init__(self, base_url: str = DEFAULT_API, *, timeout: float = 10.0, retries: int = 1,
                 refresh_margin: float = 60.0, transport: httpx.BaseTransport | None = None,
                 device_file: Path | None = None, user_agent: str = "strongroom-gui",
                 ca_file: Path | None = None, fingerprint: str | None = None) -> None:
        """Over https the server is verified against the system's trust store, or `ca_file`, or the pinned
        SHA-256 `fingerprint` of its certificate (api/tls.py); verification is never turned off."""
        self.base_url = base_url.rstrip("/")
        self._trust = (ca_file, tls.normalise_fingerprint(fingerprint) if fingerprint else None)
        self.device_file = device_file
        self._devices = self._load_devices()
        self._username: str | None = None
        self.retries = retries
        self.refresh_margin = refresh_margin
        """Refresh when the access token has fewer seconds than this left."""
        self.session: Session | None = None
        self.on_session_change: Callable[[Session | None], None] = lambda _s: None
        self._refresh_lock = threading.Lock()
        self._timeout = timeout
        self._http_options: dict[str, Any] = {
            "base_url": self.base_url, "timeout": timeout, "transport": transport,
            "headers": {"Accept": "application/json", "User-Agent": user_agent}}
        self._http_lock = threading.Lock()
        self._http_client: httpx.Client | None = None
        if fingerprint is None:
            self._connect()

    def _connect(self) -> httpx.Client:
        """The HTTP client, made on first use when a pinned fingerprint must first be checked against the
        certificate the server presents (a network round trip the constructor does not make)."""
        with self._http_lock:
            if self._http_client is None:
                self._http_client = httpx.Client(verify=self._verify(), **self._http_options)
            return self._http_client

    def _verify(self) -> ssl.SSLContext | bool:
        parts = urlsplit(self.base_url)
        if parts.scheme != "https":
            return True
        ca_file, pinned = self._trust
        try:
            return tls.client_context(parts.hostname or "", parts.port or 443, ca_file, pinned, self._timeout)
        except tls.UntrustedServer as error:
            raise UntrustedServer(str(error)) from None
        except ConnectionError as error:
            raise Unreachable(f"Cannot reach the server at {self.base_url}.") from error

    def close(self) -> None:
        with self._http_lock:
            if self._http_client is not None:
                self._http_client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:  # never the tokens
        return f"<ApiClient {self.base_url} {'logged in' if self.session else 'not logged in'}>"

    # -- the plumbing -------------------------------------------------------------------------------

    def _send(self, method: str, path: str, *, json: Json = None, params: Mapping[str, Any] | None = None,
              headers: Mapping[str, str] | None = None, retry: bool) -> httpx.Response:
        """One request with bounded retries of requests that never got an answer."""
        attempts = 1 + (self.retries if retry else 0)
        for attempt in range(attempts):
            try:
                return self._connect().request(method, path, json=json, params=_clean(params), headers=headers)
            except httpx.TimeoutException:
                if attempt + 1 == attempts:
                    raise Unreachable(f"The server at {self.base_url} did not answer in time.") from None
            except httpx.TransportError as error:
                refused = tls.describe_refusal(error, self.base_url)
                if refused is not None:
                    raise UntrustedServer(refused) from None
                if attempt + 1 == attempts:
                    raise Unreachable(f"Cannot reach the server at {self.base_url}.") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def call(self, method: str, path: str, *, json: Json = None, params: Mapping[str, Any] | None = None,
             idempotency_key: str | None = None, auth: bool = True) -> Json:
        """Send a request as the logged-in user and return its JSON (None for 204)."""
        headers: dict[str, str] = {}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        retry = method == "GET" or idempotency_key is not None
        if auth:
            token = self._fresh_token()
            headers["Authorization"] = f"Bearer {token}"
        response = self._send(method, path, json=json, params=params, headers=headers, retry=retry)
        if auth and response.status_code == 401:
            # The token may have been refused for its age: one refresh, one more try, then give up.
            headers["Authorization"] = f"Bearer {self._refresh(stale=token)}"
            response = self._send(method, path, json=json, params=params, headers=headers, retry=retry)
            if response.status_code == 401:
                self._end_session()
                raise SessionExpired("Your session has ended: please log in again.")
        if response.status_code >= 400:
            raise _problem(response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def _fresh_token(self) -> str:
        session = self.session
        if session is None:
            raise SessionExpired("You are not logged in.")
        if self.needs_refresh(session):
            return self._refresh(stale=session.access_token)
        return session.access_token

    def needs_refresh(self, session: Session) -> bool:
        """True once the token is within its refresh margin (at most a quarter of its lifetime)."""
        margin = min(self.refresh_margin, session.lifetime / 4)
        return session.refresh_token is not None and session.seconds_left < margin

    def _refresh(self, stale: str) -> str:
        """Swap the refresh token for a new pair; threads that arrive together refresh once."""
        with self._refresh_lock:
            session = self.session
            if session is None:
                raise SessionExpired("You are not logged in.")
            if session.access_token != stale:  # another thread refreshed while this one waited
                return session.access_token
            if not session.refresh_token:
                self._end_session()
                raise SessionExpired("Your session has ended: please log in again.")
            response = self._send("POST", "/token/refresh", json={"refresh_token": session.refresh_token},
                                  retry=False)
            if response.status_code in (400, 401, 403, 422):
                self._end_session()
                raise SessionExpired("Your session has ended: please log in again.")
            if response.status_code >= 400:
                raise _problem(response)
            return self._start_session(response.json()).access_token

    def _start_session(self, tokens: Mapping[str, Json]) -> Session:
        lifetime = float(tokens.get("expires_in", 900))
        self.session = Session(
            access_token=str(tokens["access_token"]),
            refresh_token=tokens.get("refresh_token"),
            expires_at=time.time() + lifetime,
            lifetime=lifetime,
        )
        self.on_session_change(self.session)
        return self.session

    def _end_session(self) -> None:
        self.session = None
        self.on_session_change(None)

    # -- accounts -----------------------------------------------------------------------------------

    def health(self) -> Json:
        """`/health`: the API process answers."""
        return self.call("GET", "/health", auth=False)

    def ready(self) -> Json:
        """`/ready`: the database is reachable and its code is current (ApiError 503 otherwise)."""
        return self.call("GET", "/ready", auth=False)

    def _load_devices(self) -> dict[str, str]:
        if self.device_file is None:
            return {}
        try:
            stored = json.loads(self.device_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in stored.items()} if isinstance(stored, dict) else {}

    def _keep_device(self, username: str, token: Json) -> None:
        if not isinstance(token, str) or self._devices.get(username.lower()) == token:
            return
        self._devices[username.lower()] = token
        if self.device_file is None:
            return
        self.device_file.parent.mkdir(parents=True, exist_ok=True)
        partial = self.device_file.with_name(self.device_file.name + ".partial")
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            json.dump(self._devices, out)
        os.replace(partial, self.device_file)

    def device_token(self, username: str) -> str | None:
        """The device token this client holds for the username, if a login here has returned one."""
        return self._devices.get(username.lower())

    def login(self, username: str, password: str) -> Session:
        """Log in; the tokens stay in this object's memory and are refreshed silently before they expire."""
        body = {"username": username, "password": password}
        if device := self.device_token(username):
            body["device_token"] = device
        response = self._send("POST", "/login", json=body, retry=False)
        if response.status_code >= 400:
            raise _problem(response)
        tokens = response.json()
        self._keep_device(username, tokens.get("device_token"))
        self._username = username
        return self._start_session(tokens)

    def change_password(self, current_password: str, new_password: str) -> Session:
        """Change the password; the server revokes every older token and this session goes on with new ones."""
        body = {"current_password": current_password, "new_password": new_password}
        if self._username and (device := self.device_token(self._username)):
            body["device_token"] = device
        # Not through call(): a wrong current password is a 401 too, which must not be retried or end the session.
        headers = {"Authorization": f"Bearer {self._fresh_token()}"}
        response = self._send("PUT", "/me/password", json=body, headers=headers, retry=False)
        if response.status_code >= 400:
            raise _problem(response)
        return self._start_session(response.json())

    def register(self, username: str, password: str, email: str | None = None) -> Json:
        body = {"username": username, "password": password, **({"email": email} if email else {})}
        return self.call("POST", "/register", json=body, auth=False)

    def me(self) -> Json:
        """The caller's account (id, username, role, ...)."""
        return self.call("GET", "/me")

    def logout_everywhere(self) -> None:
        """Revoke every token of the caller, on every device, then forget this session."""
        try:
            self.call("POST", "/logout/all")
        finally:
            self._end_session()

    def logout(self) -> None:
        """End this session: its refresh token stops working on the server, the tokens are forgotten here."""
        try:
            if self.session is not None:
                self.call("POST", "/logout", json={"refresh_token": self.session.refresh_token})
        finally:
            self._end_session()

    def refresh(self) -> Session:
        """Refresh now (the app's silent refresh timer calls this)."""
        if self.session is None:
            raise SessionExpired("You are not logged in.")
        self._refresh(stale=self.session.access_token)
        assert self.session is not None
        return self.session

    # -- orders -------------------------------------------------------------------------------------

    def create_order(self, description: str, status: str = "pending", encrypt: bool = False,
                     idempotency_key: str | None = None) -> Json:
        """Create the order in `status`, in one request (idempotent); the database says who may create in which.

        `encrypt` stores the description encrypted in the database. Without an `idempotency_key` a fresh one
        is made: a retry of this call after a lost answer still creates the order once.
        """
        return self.call("POST", "/orders", json={"description": description, "sensitive": encrypt,
                                                  "status": status or "pending"},
                         idempotency_key=idempotency_key or new_idempotency_key())

    def order_statuses(self) -> Rows:
        """Every status with `may_create` / `may_set` for the logged-in user's role (from the database)."""
        return _items(self.call("GET", "/order-statuses"))[0]

    def list_orders(self, status: str | None = None, limit: int = 50,
                    cursor: str | None = None) -> tuple[Rows, str | None]:
        """One page of orders (the caller's; an admin's: everyone's), newest first, and the next page's cursor."""
        return _items(self.call("GET", "/orders", params={"status": status, "limit": limit, "cursor": cursor}))

    def all_orders(self, status: str | None = None, *, max_rows: int = 10_000) -> Rows:
        """Every order the caller may see (up to `max_rows`), walking the pages."""
        return self._all(lambda cursor: self.list_orders(status, 200, cursor), max_rows)

    def get_order(self, order_id: int) -> Json:
        """One order, its description decrypted when it is sensitive."""
        return self.call("GET", f"/orders/{order_id}")

    def order_history(self, order_id: int) -> Rows:
        """The order's events (created, each status change), oldest first, with who acted."""
        return _items(self.call("GET", f"/orders/{order_id}/history"))[0]

    def set_order_status(self, order_id: int, status: str) -> Json:
        """Move an order along (the database decides which transitions the caller may make)."""
        return self.call("PATCH", f"/orders/{order_id}", json={"status": status})

    def _all(self, page: Callable[[str | None], tuple[Rows, str | None]], max_rows: int) -> Rows:
        rows, cursor = page(None)
        while cursor is not None and len(rows) < max_rows:
            more, cursor = page(cursor)
            rows.extend(more)
        return Rows(rows[:max_rows])

    # -- entries (secure notes) ----------------------------------------------------------------------

    def list_entries(self) -> Rows:
        """The caller's entries (secure notes): titles and dates, never the (encrypted) content."""
        return _items(self.call("GET", "/entries"))[0]

    def get_entry(self, entry_id: int) -> Json:
        """One entry with its content decrypted (only in the returned object)."""
        return self.call("GET", f"/entries/{entry_id}")

    def create_entry(self, title: str, content: str, idempotency_key: str | None = None) -> Json:
        """Save an entry (a secure note); its content is encrypted in the database."""
        return self.call("POST", "/entries", json={"title": title, "content": content},
                         idempotency_key=idempotency_key or new_idempotency_key())

    def update_entry(self, entry_id: int, title: str, content: str) -> Json:
        return self.call("PUT", f"/entries/{entry_id}", json={"title": title, "content": content})

    def delete_entry(self, entry_id: int) -> None:
        self.call("DELETE", f"/entries/{entry_id}")

    # -- password vault -----------------------------------------------------------------------------

    def generate_password(self, length: int = 20, classes: Iterable[str] = ("lower", "upper", "digits", "symbols"),
                          exclude_lookalikes: bool = True) -> str:
        """A random password made by the database from the chosen character classes."""
        classes = list(classes)
        flags = {name: str(name in classes).lower() for name in ("lower", "upper", "digits", "symbols")}
        answer = self.call("GET", "/password-generator", params={
            "length": length, **flags, "exclude_lookalikes": str(exclude_lookalikes).lower()})
        return str(answer["password"] if isinstance(answer, dict) else answer)

    def save_password(self, website: str, login: str, password: str, idempotency_key: str | None = None) -> Json:
        """Save a login for a site; the password is encrypted in the database."""
        return self.call("POST", "/passwords", json={"website": website, "username": login, "password": password},
                         idempotency_key=idempotency_key or new_idempotency_key())

    def list_sites(self, *, max_rows: int = 10_000) -> Rows:
        """The caller's sites and logins (up to `max_rows`, newest first), without secrets (and `to_frame()`
        never shows a secret column): every page of `sites_page`, walked."""
        return Rows(self._all(lambda cursor: self.sites_page(200, cursor), max_rows), secrets=False)

    def sites_page(self, limit: int = 50, cursor: str | None = None) -> tuple[Rows, str | None]:
        """One page of the caller's sites and logins, newest first, without secrets, and the next page's cursor."""
        rows, following = _items(self.call("GET", "/passwords", params={"limit": limit, "cursor": cursor}))
        return Rows(rows, secrets=False), following

    def lookup_password(self, website: str) -> Rows:
        """The caller's logins for a site (any site: a URL too) with their passwords decrypted; ApiError 404 if none."""
        return _items(self.call("GET", "/passwords", params={"website": website}))[0]

    def delete_password(self, password_id: int) -> None:
        self.call("DELETE", f"/password-items/{password_id}")

    # -- logs ---------------------------------------------------------------------------------------

    def list_logs(self, level: str | None = None, limit: int = 200, cursor: str | None = None, *,
                  component: str | None = None, user: str | None = None,
                  api_calls: bool = False) -> tuple[Rows, str | None]:
        """One page of log events, newest first (own; an admin's or auditor's: all), and the next cursor.

        API-call records (one per request) are left out unless `api_calls`; `user` is a username.
        """
        return _items(self.call("GET", "/logs", params={
            "level": level, "limit": limit, "cursor": cursor, "component": component, "user": user,
            "api_calls": "true" if api_calls else None}))

    def all_logs(self, level: str | None = None, *, max_rows: int = 10_000) -> Rows:
        """Every log event the caller may see (up to `max_rows`, newest first), walking the pages."""
        return self._all(lambda cursor: self.list_logs(level, 200, cursor), max_rows)

    def post_log(self, level: str, message: str, component: str = "gui") -> Json:
        """Record one of the client's own events (stored with component `client:<component>`)."""
        return self.call("POST", "/logs", json={"level": level, "component": component, "message": message})

    # -- administration -----------------------------------------------------------------------------

    def list_keys(self) -> Rows:
        """Every data key's state and how many rows use it (admins; never key material)."""
        return _items(self.call("GET", "/aes/keys"))[0]

    def rotate_key(self) -> Json:
        """Make a new active data key; old ciphertext still decrypts (admins)."""
        return self.call("POST", "/aes/rotate")

    def reencrypt(self, batch_size: int = 500, sweep: bool = False, count: bool = True) -> Json:
        """One committed re-encryption batch: rows moved, and rows left when counted (api/reencryption.py
        decides what to ask for next; `reencryption.run(client.reencrypt_step)` drives a whole job)."""
        return self.call("POST", "/aes/reencrypt", json={"batch_size": batch_size, "sweep": sweep, "count": count})

    def reencrypt_step(self, step: Step) -> tuple[int, int | None]:
        """One batch as api/reencryption.py's Batch: (moved, rows_left or None)."""
        answer = self.reencrypt(step.batch_size, step.sweep, step.count)
        return int(answer["moved"]), answer.get("rows_left")

    def reencrypt_all(self, batch_size: int = 500,
                      on_progress: Callable[[reencryption.Progress], None] | None = None) -> reencryption.Progress:
        """Re-encrypt until no row is left on an old key, one committed batch per request, driven by
        api/reencryption.py (`on_progress` gets each batch's Progress: what a progress bar follows). Stopped
        early (Ctrl-C, a lost connection), every row still decrypts; run it again to finish."""
        return reencryption.run(self.reencrypt_step, batch_size, on_progress=on_progress)

    def retire_key(self, key_id: int) -> Json:
        """Destroy a decrypt-only key's material once no row uses it (admins)."""
        return self.call("POST", f"/aes/keys/{key_id}/retire")

    def list_users(self) -> Rows:
        """Every account with its role and state (admins)."""
        return _items(self.call("GET", "/users"))[0]

    def user_action(self, user_id: int, action: str) -> Json:
        """`unlock`, `disable` or `enable` a user."""
        if action not in ("unlock", "disable", "enable"):
            raise ValueError(action)
        return self.call("POST", f"/users/{user_id}/{action}")

    def set_user_role(self, user_id: int, role: str) -> Json:
        return self.call("PUT", f"/users/{user_id}/role", json={"role": role})


def _clean(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Drop unset query parameters so the server applies its defaults."""
    if params is None:
        return None
    return {k: v for k, v in params.items() if v is not None and v != ""}
