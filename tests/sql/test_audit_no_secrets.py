"""No secret reaches any log table, when every secret is written the way the API writes it.

The user registers, logs in and changes their password; saves a vault item, writes and rewrites a note and
a sensitive order; an administrator rotates the data key, re-encrypts every row and retires the old key.
All through the api functions, on an authenticator connection with the API's request context. Then every
row of logs, order_logs and key_logs, cast whole to text, is searched for the plaintexts and for what the
database stored from them: ciphertexts, the blind index, bcrypt hashes and wrapped data keys.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
import pytest

from tests.sql.accounts_support import PEPPER, begin_request, make_user
from tests.sql.crypto_support import MASTER_KEY, ensure_key, one

LOG_TABLES = ("logs", "order_logs", "key_logs")
FIRST_PASSWORD = "pw-first-marker-4e1b9a"
SECOND_PASSWORD = "pw-second-marker-8c2d77"
SITE = "site-marker-31f0.example"
PLAINTEXTS = [
    FIRST_PASSWORD, SECOND_PASSWORD, SITE, "login-marker-a6e3", "secret-marker-0d94", "notes-marker-77c1",
    "note-marker-5b2e", "note-rewritten-marker-e9a0", "order-marker-c4f8",
    PEPPER, MASTER_KEY,  # passed in with each call, never stored
]

# Every value the database stores from a secret: sampled after each step, since later steps rewrite them.
# The ciphertexts and blind indexes come from the one declaration of encrypted columns (sql/30_crypto.sql).
STORED_SECRETS = """
    select kind, v from (
        select 'bcrypt hash' as kind, hashed_password as v from public.users
        union all select 'wrapped key', key_value from public.aes_keys where key_value <> ''
        union all select 'key check', encode(master_check, 'hex') from public.aes_keys
        {encrypted}
    ) s where v is not null
"""
ENCRYPTED = """
    select string_agg(format('union all select %%L, encode(%%I, ''hex'') from public.%%I', kind, col, table_name), ' ')
      from (select table_name, column_name as col, table_name || '.' || column_name as kind
              from private.encrypted_columns
            union all
            select table_name, blind_index_column, table_name || '.' || blind_index_column
              from private.encrypted_columns where blind_index_column is not null) c
"""


def stored_secrets(db: psycopg.Connection) -> list[tuple[str, str]]:
    encrypted = one(db, ENCRYPTED)[0]
    return db.execute(STORED_SECRETS.format(encrypted=encrypted)).fetchall()


def prehash(password: str) -> str:
    """What bcrypt is given (sql/20_auth.sql): base64(hmac_sha256(NFKC(password), pepper))."""
    digest = hmac.new(PEPPER.encode(), unicodedata.normalize("NFKC", password).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


@pytest.fixture
def api(connect: Callable[..., psycopg.Connection]) -> psycopg.Connection:
    return connect("strongroom_authenticator")


@contextmanager
def request_of(api: psycopg.Connection, db: psycopg.Connection, user_id: int, role: str,
               request_id: str) -> Iterator[psycopg.Connection]:
    """One committed API transaction of the caller, with the master key set as api/http/calls.py sets it."""
    version = one(db, "select token_version from public.users where id = %s", [user_id])[0]
    with api.transaction():
        begin_request(api, user_id, role, int(version), request_id)
        api.execute("select pg_catalog.set_config('strongroom.master_key', %s, true)", [MASTER_KEY])
        yield api


@contextmanager
def anonymous_request(api: psycopg.Connection, request_id: str) -> Iterator[psycopg.Connection]:
    with api.transaction():
        api.execute("select api.begin_anonymous_request(%s)", [request_id])
        yield api


def test_no_plaintext_ciphertext_blind_index_hash_or_key_material_reaches_a_log_table(db, api):
    ensure_key(db)
    admin = make_user(db, "root-admin", "admin")
    stored: set[tuple[str, str]] = set()

    def sample() -> None:
        stored.update((str(kind), str(value)) for kind, value in stored_secrets(db))

    with anonymous_request(api, "req-1"):
        alice = int(one(api, "select user_id from api.register('alice', %s, %s)", [FIRST_PASSWORD, PEPPER])[0])
    with anonymous_request(api, "req-2"):
        assert one(api, "select status from api.login('alice', %s, %s)", [FIRST_PASSWORD, PEPPER])[0] == "ok"
    sample()
    with request_of(api, db, alice, "user", "req-3"):
        status = one(api, "select status from api.change_password(%s, %s, %s)",
                     [FIRST_PASSWORD, SECOND_PASSWORD, PEPPER])[0]
        assert status == "ok"
    with request_of(api, db, alice, "user", "req-4"):
        api.execute("select * from api.save_vault_item(%s, %s, %s, %s)", PLAINTEXTS[2:6])
        note = int(one(api, "select id from api.create_entry('a title', %s)", [PLAINTEXTS[6]])[0])
        api.execute("select * from api.create_order(%s, true)", [PLAINTEXTS[8]])
    sample()
    with request_of(api, db, alice, "user", "req-5"):
        api.execute("select * from api.update_entry(%s, null, %s)", [note, PLAINTEXTS[7]])
        api.execute("select * from api.save_vault_item(%s, %s, %s, %s)", PLAINTEXTS[2:6])  # replaces it
    sample()
    with request_of(api, db, admin, "admin", "req-6"):
        old_key = int(one(api, "select old_key_id from api.rotate_key()")[0])
    sample()
    with request_of(api, db, admin, "admin", "req-7"):
        assert one(api, "select sum(rows_left) from api.reencrypt_batch(1000, true)")[0] == 0
        api.execute("select * from api.retire_key(%s)", [old_key])
    sample()

    needles = {marker: marker for marker in PLAINTEXTS}
    needles |= {f"{marker} as bytea": marker.encode().hex() for marker in PLAINTEXTS}
    needles |= {f"prehash of {p}": prehash(p) for p in (FIRST_PASSWORD, SECOND_PASSWORD)}
    needles |= {f"{kind} #{n}": value for n, (kind, value) in enumerate(sorted(stored))}
    # Every version was sampled: admin's and alice's two hashes; two keys; the note as written, rewritten
    # and re-encrypted; the order and the vault item as written and re-encrypted (the replaced vault item
    # keeps its blind index: same owner, site and key).
    kinds = [kind for kind, _ in stored]
    assert {kind: kinds.count(kind) for kind in kinds} == {
        "bcrypt hash": 3, "wrapped key": 2, "key check": 2, "entries.content_enc": 3, "orders.description_enc": 2,
        "vault.site_index": 2, "vault.site_enc": 3, "vault.login_enc": 3, "vault.secret_enc": 3, "vault.notes_enc": 3}
    for table in LOG_TABLES:
        dump = one(db, f"select coalesce(string_agg(t::text, ' '), '') from public.{table} t")[0]
        assert dump, f"{table} recorded the steps"  # a search of an empty table would prove nothing
        leaked = [name for name, needle in needles.items() if needle in dump]
        assert leaked == [], f"{table} holds {leaked}"
