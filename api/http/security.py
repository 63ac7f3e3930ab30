"""Tokens: HS256 JWTs, pinned, with every claim the API relies on required and checked.

An access token says who calls (`sub`), as which role (`role`) and with which token version (`ver`); the
database refuses a stale version (api.begin_request), so logout everywhere, a password change, a role change
or disabling the account revoke every token at once. A refresh token is a JWT of `typ` "refresh" whose `jti`
is stored only as a SHA-256 in PostgreSQL (api.open_session / api.refresh_session): single use, in families.
A device token (`typ` "device", OWASP's device cookie) is handed out at a successful login from a new device:
`sub` the user, `name` the lower-cased username, `jti` the device's random id, whose SHA-256 the database keeps
(private.login_devices). Attempts presenting it are throttled and counted apart from everyone else's.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any, Literal

import jwt

from api.http.errors import Problem, not_authenticated
from api.rules import ROLES
from api.settings import Settings, check_secret

ALGORITHM = "HS256"
ACCESS = "access"
REFRESH = "refresh"
DEVICE = "device"
REQUIRED = ["exp", "iat", "sub", "jti", "iss", "aud", "typ"]
# Access tokens verified recently, remembered with their validity window (see Tokens.verify_access).
REMEMBERED_ACCESS_TOKENS = 4096
# A session id is the uuid of a refresh-token family (api.open_session); begin_request checks it is still open.
SESSION_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class _HS256(jwt.algorithms.HMACAlgorithm):
    """PyJWT's HS256, with its key check remembered per key. PyJWT checks on every token that the HMAC
    secret is not a PEM or DER public key (by trying to parse it: about 0.2 ms a request); the answer
    depends on the key bytes alone, so checking each key once decides the same."""

    def __init__(self) -> None:
        super().__init__(jwt.algorithms.HMACAlgorithm.SHA256)
        self._checked: dict[bytes, bytes] = {}

    def prepare_key(self, key: str | bytes) -> bytes:
        raw = key.encode() if isinstance(key, str) else key
        if (prepared := self._checked.get(raw)) is None:
            prepared = self._checked[raw] = super().prepare_key(raw)
        return prepared


# PyJWT's public registry is process-wide: HS256 means the same there, only its key check is remembered.
jwt.unregister_algorithm(ALGORITHM)
jwt.register_algorithm(ALGORITHM, _HS256())


@dataclass(frozen=True)
class Caller:
    """The verified claims of an access token."""

    user_id: int
    role: str
    token_version: int
    jti: str
    session_id: str


@dataclass(frozen=True)
class RefreshClaims:
    user_id: int
    jti: str


@dataclass(frozen=True)
class Issued:
    token: str
    jti: str
    expires_in: int


class Tokens:
    """Signs and verifies the API's tokens with the JWT secret."""

    def __init__(self, settings: Settings) -> None:
        self._key = check_secret("STRONGROOM_JWT_SECRET", settings.jwt_secret)
        self.issuer = settings.jwt_issuer
        self.audience = settings.jwt_audience
        self.access_seconds = settings.access_token_minutes * 60
        self.refresh_seconds = settings.refresh_token_days * 86400
        self.device_seconds = settings.device_token_days * 86400
        self._verified: dict[str, tuple[Caller, int, int]] = {}

    def _sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"typ": "JWT"})

    def _claims(self, user_id: int, typ: str, seconds: int) -> dict[str, Any]:
        now = int(time.time())
        return {"iss": self.issuer, "aud": self.audience, "sub": str(user_id), "iat": now, "nbf": now,
                "exp": now + seconds, "jti": new_jti(), "typ": typ}

    def access(self, user_id: int, role: str, token_version: int, session_id: str) -> Issued:
        """An access token of one session (`sid`, its refresh-token family): it dies with the session."""
        claims = (self._claims(user_id, ACCESS, self.access_seconds)
                  | {"role": role, "ver": token_version, "sid": session_id})
        return Issued(self._sign(claims), claims["jti"], self.access_seconds)

    def refresh(self, user_id: int, jti: str | None = None) -> Issued:
        """A refresh token; `jti` when its hash was already stored (a login stores it before the user is known)."""
        claims = self._claims(user_id, REFRESH, self.refresh_seconds) | ({"jti": jti} if jti else {})
        return Issued(self._sign(claims), claims["jti"], self.refresh_seconds)

    def device(self, user_id: int, username: str, jti: str) -> str:
        """The device token of a login from a new device, whose id's hash the login stored."""
        claims = self._claims(user_id, DEVICE, self.device_seconds) | {"jti": jti, "name": username.lower()}
        return self._sign(claims)

    def device_id(self, token: str | None, *, username: str | None = None, user_id: int | None = None) -> str | None:
        """The device id of a valid device token of this username (or user id); None for anything else (never
        an error: a missing, expired or foreign device token only means the attempt counts as a stranger's).
        The database counts a device only for the user it was registered to, whatever this says."""
        if not token:
            return None
        try:
            claims = self._decode(token, DEVICE)
        except Problem:
            return None
        if username is not None and claims.get("name") != username.lower():
            return None
        if user_id is not None and claims["sub"] != str(user_id):
            return None
        return str(claims["jti"])

    def _decode(self, token: str, typ: Literal["access", "refresh", "device"]) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token, self._key, algorithms=[ALGORITHM], audience=self.audience, issuer=self.issuer,
                options={"require": REQUIRED, "verify_signature": True, "verify_exp": True,
                         "verify_nbf": True, "verify_iat": True, "verify_aud": True, "verify_iss": True},
                leeway=0,
            )
        except jwt.PyJWTError:
            raise not_authenticated("The token is invalid or expired.") from None
        if claims.get("typ") != typ:
            raise not_authenticated(f"This is not an {typ} token." if typ == ACCESS else f"This is not a {typ} token.")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub.isdigit() or not 0 < int(sub) < 2**31:
            raise not_authenticated("The token is invalid or expired.")
        if not isinstance(claims.get("jti"), str):
            raise not_authenticated("The token is invalid or expired.")
        return claims

    def verify_access(self, token: str) -> Caller:
        """The caller an access token names, or a 401.

        A client sends the same access token with every request for its lifetime, and verifying it (PyJWT's
        decoding and checks) cost about a tenth of a cheap request. Whether a token verifies depends on
        its bytes, the key and the time alone, so the last REMEMBERED_ACCESS_TOKENS tokens that verified
        are remembered with their validity window (iat and nbf to exp) and trusted again within it; after
        it, the token is decoded again and refused. Revocation is unaffected: PostgreSQL checks the
        token's version and session in every call (api.begin_request).
        """
        now = time.time()
        known = self._verified.get(token)
        if known is not None:
            if known[1] <= now < known[2]:
                return known[0]
            del self._verified[token]
        claims = self._decode(token, ACCESS)
        role, version, session = claims.get("role"), claims.get("ver"), claims.get("sid")
        if role not in ROLES or type(version) is not int or not 0 < version < 2**31:
            raise not_authenticated("The token is invalid or expired.")
        if not isinstance(session, str) or not SESSION_ID.fullmatch(session):
            raise not_authenticated("The token is invalid or expired.")
        caller = Caller(int(claims["sub"]), str(role), version, str(claims["jti"]), session)
        if len(self._verified) >= REMEMBERED_ACCESS_TOKENS:
            del self._verified[next(iter(self._verified))]  # the longest remembered
        self._verified[token] = (caller, max(int(claims["iat"]), int(claims.get("nbf", 0))), int(claims["exp"]))
        return caller

    def verify_refresh(self, token: str) -> RefreshClaims:
        claims = self._decode(token, REFRESH)
        return RefreshClaims(int(claims["sub"]), str(claims["jti"]))


def new_jti() -> str:
    return secrets.token_urlsafe(32)


def token_hash(jti: str) -> bytes:
    """What PostgreSQL stores of a refresh or device token: a SHA-256 of its id, never the token."""
    return hashlib.sha256(jti.encode()).digest()
