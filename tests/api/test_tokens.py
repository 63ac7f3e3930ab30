"""Token attacks: every forged, expired, misdirected or mistyped token is a 401 with WWW-Authenticate."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from api.settings import Settings


def claims(settings: Settings, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"iss": settings.jwt_issuer, "aud": settings.jwt_audience, "sub": "1", "iat": now, "nbf": now,
            "exp": now + 600, "jti": "a-unique-token-id", "typ": "access", "role": "user", "ver": 1,
            "sid": "00000000-0000-4000-8000-000000000000"}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def secret(settings: Settings) -> bytes:
    assert settings.jwt_secret is not None
    return base64.b64decode(settings.jwt_secret.get_secret_value())


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def unsigned(settings: Settings) -> str:
    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims(settings))}."


def rs256_with_embedded_jwk(settings: Settings) -> str:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return jwt.encode(claims(settings), pem, algorithm="RS256", headers={"jwk": public_jwk})


def hs256_keyed_with_the_public_key(settings: Settings) -> str:
    """The algorithm-confusion attack: HS256 keyed with something public (here: the issuer's name)."""
    return jwt.encode(claims(settings), settings.jwt_issuer.encode() * 4, algorithm="HS256")


ATTACKS = {
    "alg_none": unsigned,
    "signed_with_another_key": lambda s: jwt.encode(claims(s), b"x" * 32, algorithm="HS256"),
    "rs256_with_embedded_jwk": rs256_with_embedded_jwk,
    "hs256_with_a_public_value": hs256_keyed_with_the_public_key,
    "hs512_with_the_right_key": lambda s: jwt.encode(claims(s), secret(s), algorithm="HS512"),
    "missing_exp": lambda s: jwt.encode(claims(s, exp=None), secret(s), algorithm="HS256"),
    "missing_iat": lambda s: jwt.encode(claims(s, iat=None), secret(s), algorithm="HS256"),
    "missing_jti": lambda s: jwt.encode(claims(s, jti=None), secret(s), algorithm="HS256"),
    "missing_sub": lambda s: jwt.encode(claims(s, sub=None), secret(s), algorithm="HS256"),
    "expired": lambda s: jwt.encode(claims(s, iat=int(time.time()) - 7200, nbf=int(time.time()) - 7200,
                                           exp=int(time.time()) - 60), secret(s), algorithm="HS256"),
    "nbf_in_the_future": lambda s: jwt.encode(claims(s, nbf=int(time.time()) + 3600), secret(s), algorithm="HS256"),
    "wrong_audience": lambda s: jwt.encode(claims(s, aud="someone-else"), secret(s), algorithm="HS256"),
    "wrong_issuer": lambda s: jwt.encode(claims(s, iss="someone-else"), secret(s), algorithm="HS256"),
    "wrong_typ": lambda s: jwt.encode(claims(s, typ="id"), secret(s), algorithm="HS256"),
    "refresh_token_as_access_token": lambda s: jwt.encode(claims(s, typ="refresh"), secret(s), algorithm="HS256"),
    "unknown_role": lambda s: jwt.encode(claims(s, role="superuser"), secret(s), algorithm="HS256"),
    "token_version_as_string": lambda s: jwt.encode(claims(s, ver="1"), secret(s), algorithm="HS256"),
    "no_session_id": lambda s: jwt.encode(claims(s, sid=None), secret(s), algorithm="HS256"),
    "session_id_not_a_uuid": lambda s: jwt.encode(claims(s, sid="1' or '1'='1"), secret(s), algorithm="HS256"),
    "sub_not_a_user_id": lambda s: jwt.encode(claims(s, sub="1 or 1=1"), secret(s), algorithm="HS256"),
    "sub_past_integer_range": lambda s: jwt.encode(claims(s, sub=str(2**31)), secret(s), algorithm="HS256"),
    "garbage": lambda s: "not.a.token",
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_a_forged_or_unusable_token_is_refused_with_401_and_bearer_challenge(
        client: TestClient, api_settings: Settings, attack: str) -> None:
    token = ATTACKS[attack](api_settings)

    response = client.get("/me", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "not_authenticated"


def test_no_token_is_401_with_bearer_challenge(client: TestClient) -> None:
    response = client.get("/me")
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
def test_a_well_signed_token_is_accepted_by_the_token_check(client: TestClient, api_settings: Settings) -> None:
    """The control case: the same builder with nothing wrong gets past the JWT check to the database,
    which does not know user 1 (so the failure is the database's, not the token check's)."""
    token = jwt.encode(claims(api_settings), secret(api_settings), algorithm="HS256")

    response = client.get("/me", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 401
    assert response.json().get("sqlstate") == "SRA04"  # no user 1: the database, not the token check


def test_a_remembered_token_is_refused_once_it_expires(client: TestClient, api_settings: Settings) -> None:
    now = int(time.time())
    token = jwt.encode(claims(api_settings, exp=now + 2), secret(api_settings), algorithm="HS256")
    first = client.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert first.json().get("sqlstate") == "SRA04"  # verified (and remembered): the database answered
    time.sleep(max(0.0, now + 2 - time.time()) + 0.05)

    response = client.get("/me", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 401 and response.json()["code"] == "not_authenticated"
    assert "sqlstate" not in response.json()  # refused by the token check, not by the database


def test_a_token_is_remembered_only_by_its_exact_bytes(client: TestClient, api_settings: Settings) -> None:
    token = jwt.encode(claims(api_settings), secret(api_settings), algorithm="HS256")
    assert client.get("/me", headers={"Authorization": f"Bearer {token}"}).json().get("sqlstate") == "SRA04"
    head, body, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]

    response = client.get("/me", headers={"Authorization": f"Bearer {head}.{body}.{flipped}"})

    assert response.status_code == 401 and "sqlstate" not in response.json()
