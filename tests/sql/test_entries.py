"""Secure notes (entries): the rules of sql/51_api_entries.sql, proven in SQL."""

from __future__ import annotations

import psycopg
import pytest

from tests.sql.crypto_support import MASTER_KEY, caller, ensure_key, one, raises_sqlstate, rows_read_by_page


def create(db: psycopg.Connection, user: int, title: str, content: str | None = "c") -> int:
    with caller(db, user):
        return int(one(db, "select id from api.create_entry(%s, %s)", [title, content])[0])


def test_a_note_reads_back_with_its_title_and_content(db, alice):
    entry = create(db, alice, "groceries", "milk, eggs")
    with caller(db, alice):
        assert one(db, "select title, content from api.get_entry(%s)", [entry]) == ("groceries", "milk, eggs")


def test_the_content_is_stored_only_encrypted_with_its_key_beside_it(db, alice):
    entry = create(db, alice, "t", "visible only to alice")
    content, enc, key = one(db, "select content, content_enc, content_key_id from entries where id = %s", [entry])
    assert content is None
    assert b"visible only to alice" not in bytes(enc)
    assert key == one(db, "select id from aes_keys where state = 'active'")[0]


def test_the_list_shows_titles_newest_first_and_pages_by_keyset(db, alice):
    ids = [create(db, alice, f"note {i}") for i in range(5)]
    with caller(db, alice):
        first = db.execute("select id, title from api.list_entries(null, 2)").fetchall()
        second = db.execute("select id, title from api.list_entries(%s, 2)", [first[-1][0]]).fetchall()
        rest = db.execute("select id from api.list_entries(%s, 2)", [second[-1][0]]).fetchall()
    assert [r[0] for r in first + second + rest] == ids[::-1]
    assert first[0][1] == "note 4"


def test_the_list_decrypts_nothing_and_needs_no_master_key(db, alice):
    create(db, alice, "a title")
    with caller(db, alice, master_key=None):
        assert db.execute("select title from api.list_entries()").fetchall() == [("a title",)]


def test_update_changes_title_and_content_and_null_keeps_the_old_value(db, alice):
    entry = create(db, alice, "old title", "old content")
    with caller(db, alice):
        db.execute("select api.update_entry(%s, null, 'new content')", [entry])
        assert one(db, "select title, content from api.get_entry(%s)", [entry]) == (
            "old title",
            "new content",
        )
        db.execute("select api.update_entry(%s, 'new title', null)", [entry])
        assert one(db, "select title, content from api.get_entry(%s)", [entry]) == (
            "new title",
            "new content",
        )


def test_delete_removes_the_note(db, alice):
    entry = create(db, alice, "gone soon")
    with caller(db, alice):
        db.execute("select api.delete_entry(%s)", [entry])
    assert one(db, "select count(*) from entries")[0] == 0


@pytest.mark.parametrize(
    "call",
    [
        "select * from api.get_entry(%s)",
        "select * from api.update_entry(%s, 'stolen', 'stolen')",
        "select * from api.delete_entry(%s)",
    ],
)
def test_another_users_note_is_not_found(db, alice, bob, call):
    entry = create(db, alice, "alice only", "private")
    with caller(db, bob):
        assert db.execute(call, [entry]).fetchall() == []
    assert one(db, "select title, user_id from entries where id = %s", [entry]) == ("alice only", alice)


def test_another_users_notes_are_not_listed(db, alice, bob):
    create(db, alice, "alice only")
    with caller(db, bob):
        assert db.execute("select * from api.list_entries()").fetchall() == []


@pytest.mark.parametrize(("title", "why"), [("", "required"), ("   ", "required"), ("x" * 256, "too long")])
def test_a_bad_title_is_refused_with_a_clear_message(db, alice, title, why):
    with raises_sqlstate("SRP50") as info:
        create(db, alice, title)
    assert why in str(info.value)


def test_a_note_needs_a_caller(db, alice):
    with raises_sqlstate("SRA01"), db.transaction():
        db.execute("set local role strongroom_user")  # the role, without the request begin_request makes
        db.execute("select api.create_entry('t', 'c')")


def test_through_the_api_login_path_a_user_reads_their_note_and_another_gets_not_found(db, connect):
    ensure_key(db)
    pepper = "p" * 44
    api = connect(user="strongroom_authenticator", autocommit=True)  # as the API logs in
    ids = {}
    for name in ("carol", "dave"):
        api.execute("select api.register(%s, 'a long enough passphrase', %s)", [name, pepper])
        ids[name] = one(api, "select user_id from api.login(%s, 'a long enough passphrase', %s)", [name, pepper])[0]

    def request(name: str, sql: str, params: list[object]) -> list[tuple]:
        with api.transaction():
            api.execute("select api.begin_request(%s, 'user', 1, 'req-1')", [ids[name]])
            api.execute("select set_config('strongroom.master_key', %s, true)", [MASTER_KEY])
            return api.execute(sql, params).fetchall()

    entry = request("carol", "select id from api.create_entry('mine', 'carol only')", [])[0][0]
    assert request("carol", "select content from api.get_entry(%s)", [entry]) == [("carol only",)]
    assert request("dave", "select content from api.get_entry(%s)", [entry]) == []


@pytest.mark.parametrize("plans", ["force_generic_plan", "force_custom_plan"])
@pytest.mark.parametrize("page", ["first", "deep"])
def test_a_page_reads_only_its_own_rows_whatever_else_the_table_holds(db, alice, bob, plans, page):
    # As for orders (tests/sql/test_orders.py): Alice's old notes beside Bob's newer ones.
    key = ensure_key(db)
    for user in (alice, bob):
        db.execute("insert into public.entries (user_id, title, content_enc, content_key_id)"
                   " select %s, 'n', '\\x00', %s from generate_series(1, 300)", [user, key])
    before = None if page == "first" else one(
        db, "select id from public.entries where user_id = %s order by id offset 20 limit 1", [alice])[0]
    returned, read = rows_read_by_page(db, alice, "public.entries", "select id from api.list_entries(%s, 10)",
                                       before, plans)
    assert returned == 10
    assert read <= 2 * returned  # the ids, then the page's rows
