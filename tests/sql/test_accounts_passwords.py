"""Registration and the password rules, proven in SQL: policy, hashing, pepper, NFKC, cost."""

from __future__ import annotations

import unicodedata

import psycopg
import pytest

from tests.sql.accounts_support import PASSWORD, PEPPER, account, login, register, set_auth_settings


def sqlstate_of(db: psycopg.Connection, sql: str, params: list[object]) -> str | None:
    with pytest.raises(psycopg.Error) as caught:
        db.execute(sql, params)
    return caught.value.sqlstate


def register_error(db: psycopg.Connection, username: str, password: str, email: str | None = None) -> str | None:
    return sqlstate_of(db, "select * from api.register(%s, %s, %s, %s)", [username, password, PEPPER, email])


# Password policy --------------------------------------------------------------------------------------


def test_password_of_11_characters_is_refused(db):
    assert register_error(db, "alice", "q7#Lm2vX9pz") == "SRP12"


def test_password_of_12_characters_is_accepted(db):
    register(db, "alice", "q7#Lm2vX9pzT")
    assert login(db, "alice", "q7#Lm2vX9pzT")["status"] == "ok"


def test_password_of_256_characters_is_accepted(db):
    password = ("Zebra-Quartz-" * 20)[:256]
    register(db, "alice", password)
    assert login(db, "alice", password)["status"] == "ok"


def test_password_of_257_characters_is_refused(db):
    assert register_error(db, "alice", ("Zebra-Quartz-" * 20)[:257]) == "SRP13"


def test_length_counts_characters_not_bytes(db):
    # 12 characters of 4 bytes each: long enough, although 11 would not be.
    register(db, "alice", "\U0001f510" * 12)
    assert register_error(db, "bob", "\U0001f510" * 11) == "SRP12"


def test_common_password_is_refused_whatever_its_case(db):
    assert db.execute(
        "select exists (select 1 from private.common_passwords where password = '1qaz2wsx3edc')"
    ).fetchone() == (True,)
    assert register_error(db, "alice", "1qaz2wsx3edc") == "SRP14"
    assert register_error(db, "alice", "1QAZ2wsx3EDC") == "SRP14"


def test_common_password_list_holds_the_10000_most_common(db):
    count, first, last = db.execute("select count(*), min(rank), max(rank) from private.common_passwords").fetchone()
    assert (count, first, last) == (10000, 1, 10000)
    assert db.execute("select password from private.common_passwords where rank <= 2 order by rank").fetchall() == [
        ("123456",),
        ("password",),
    ]


def test_password_containing_the_username_is_refused(db):
    assert register_error(db, "Margarethe", "my-margarethe-secret") == "SRP15"


def test_password_policy_has_no_composition_rules(db):
    register(db, "alice", "all lower case words here")
    assert login(db, "alice", "all lower case words here")["status"] == "ok"


def test_change_password_applies_the_same_policy(db, connect):
    from tests.sql.accounts_support import begin_request

    user_id = register(db, "alice")
    conn = connect("strongroom_authenticator")
    begin_request(conn, user_id)
    with pytest.raises(psycopg.Error) as caught:
        conn.execute("select * from api.change_password(%s, %s, %s)", [PASSWORD, "short", PEPPER])
    assert caught.value.sqlstate == "SRP12"


# Username and email --------------------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["ab", "x" * 65, "has space", "émile", ".dot-first", "semi;colon"])
def test_username_outside_the_documented_set_is_refused(db, username):
    assert register_error(db, username, PASSWORD) == "SRP10"


@pytest.mark.parametrize("username", ["abc", "x" * 64, "Jane.Doe_2-x", "007"])
def test_username_inside_the_documented_set_is_accepted(db, username):
    assert register(db, username) > 0


def test_usernames_are_unique_regardless_of_case(db):
    register(db, "Alice")
    assert register_error(db, "aLICE", PASSWORD) == "SRC10"


def test_the_table_itself_refuses_a_name_outside_the_set(db):
    assert (
        sqlstate_of(db, "insert into public.users (username, hashed_password) values (%s, 'x')", ["no spaces allowed"])
        == "23514"
    )


@pytest.mark.parametrize(
    "email", ["plainaddress", "a@b", "a b@example.org", "a@@example.org", "@example.org", "x" * 250 + "@example.org"]
)
def test_malformed_email_is_refused(db, email):
    assert register_error(db, "alice", PASSWORD, email) == "SRP11"


def test_emails_are_unique_regardless_of_case(db):
    register(db, "alice", email="Alice@Example.org")
    assert register_error(db, "bob", PASSWORD, "alice@example.ORG") == "SRC11"


def test_register_returns_the_new_account_with_the_user_role(db):
    row = db.execute(
        "select username, email, role from api.register(%s, %s, %s, %s)",
        ["alice", PASSWORD, PEPPER, "alice@example.org"],
    ).fetchone()
    assert row == ("alice", "alice@example.org", "user")


def test_no_account_exists_before_anyone_registers(db):
    assert db.execute("select count(*) from public.users").fetchone() == (0,)


# Hashing ------------------------------------------------------------------------------------------------


def test_stored_hash_is_bcrypt_cost_12_under_the_default_setting(db):
    set_auth_settings(db, bcrypt_cost=12)  # the template lowered it for speed; 12 is the shipped default
    assert db.execute(
        "select column_default from information_schema.columns where table_schema = 'private' "
        "and table_name = 'auth_settings' and column_name = 'bcrypt_cost'"
    ).fetchone() == ("12",)
    user_id = register(db, "alice")
    assert account(db, user_id)["hashed_password"].startswith("$2a$12$")


def test_the_hash_is_of_the_peppered_prehash_not_of_the_password(db):
    user_id = register(db, "alice")
    stored = account(db, user_id)["hashed_password"]
    assert db.execute("select crypt(%s, %s) = %s", [PASSWORD, stored, stored]).fetchone() == (False,)
    assert db.execute(
        "select crypt(private.password_prehash(%s, %s), %s) = %s", [PASSWORD, PEPPER, stored, stored]
    ).fetchone() == (True,)


def test_another_pepper_does_not_log_in(db):
    register(db, "alice")
    other = "A" * 43 + "="
    assert login(db, "alice", pepper=other)["status"] == "bad_credentials"


def test_a_missing_or_short_pepper_is_refused(db):
    assert sqlstate_of(db, "select * from api.register('alice', %s, %s)", [PASSWORD, "short"]) == "SRK10"
    assert sqlstate_of(db, "select * from api.login('alice', %s, null)", [PASSWORD]) == "SRK10"


def test_passwords_equal_in_their_first_72_bytes_are_different_passwords(db):
    common = "L" * 72
    register(db, "alice", common + "-first")
    assert login(db, "alice", common + "-first")["status"] == "ok"
    assert login(db, "alice", common + "-other")["status"] == "bad_credentials"


def test_64_emoji_password_round_trips(db):
    password = "".join(chr(0x1F600 + i) for i in range(64))  # 256 bytes of UTF-8
    assert len(password.encode()) == 256
    register(db, "alice", password)
    assert login(db, "alice", password)["status"] == "ok"
    assert login(db, "alice", password[:-1] + "\U0001f4a9")["status"] == "bad_credentials"


def test_composed_and_decomposed_forms_of_a_password_both_log_in(db):
    composed = "Crème brûlée à la française"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    register(db, "alice", composed)
    assert login(db, "alice", composed)["status"] == "ok"
    assert login(db, "alice", decomposed)["status"] == "ok"


def test_compatibility_forms_are_the_same_password(db):
    fullwidth = "".join(chr(ord(c) + 0xFEE0) if c != " " else c for c in "Fullwidth pass")
    assert fullwidth != "Fullwidth pass"
    register(db, "alice", fullwidth)  # fullwidth letters: NFKC maps them to ASCII
    assert login(db, "alice", "Fullwidth pass")["status"] == "ok"


def test_a_lower_cost_hash_is_rehashed_at_the_next_successful_login(db):
    user_id = register(db, "alice")  # at the tests' cost, 10
    assert account(db, user_id)["hashed_password"].startswith("$2a$10$")
    set_auth_settings(db, bcrypt_cost=11)
    assert login(db, "alice", "wrong password here")["status"] == "bad_credentials"
    assert account(db, user_id)["hashed_password"].startswith("$2a$10$")
    assert login(db, "alice")["status"] == "ok"
    assert account(db, user_id)["hashed_password"].startswith("$2a$11$")
    assert login(db, "alice")["status"] == "ok"


def test_bcrypt_cost_below_10_is_refused(db):
    assert sqlstate_of(db, "select private.set_auth_settings(p_bcrypt_cost => 9)", []) == "SRP17"
    assert db.execute("select bcrypt_cost from private.auth_settings").fetchone() == (10,)


def test_the_dummy_hash_follows_the_cost(db):
    set_auth_settings(db, bcrypt_cost=11)
    assert db.execute("select dummy_hash like '$2a$11$%' from private.auth_settings").fetchone() == (True,)
