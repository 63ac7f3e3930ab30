"""Data keys, field encryption and the key lifecycle, proven in SQL.

The code under test: sql/30_crypto.sql and sql/53_api_keys.sql.
"""

from __future__ import annotations

import psycopg
import pytest

from tests.sql.crypto_support import (
    MASTER_KEY,
    OTHER_MASTER_KEY,
    caller,
    ensure_key,
    key_status,
    make_user,
    one,
    raises_sqlstate,
    reencrypt,
    rotate,
)

# Every code point PostgreSQL text can hold (no NUL, no surrogates): 1,112,062 characters.
ALL_OF_UNICODE = "".join(chr(c) for c in range(1, 0x110000) if not 0xD800 <= c <= 0xDFFF)
# A sample of every plane and script block, short enough for the vault's field limits.
UNICODE_SAMPLE = "".join(chr(c) for c in range(1, 0x110000, 1103) if not 0xD800 <= c <= 0xDFFF)[:1000]
ONE_MB = "x" * (1024 * 1024)


def new_entry(db: psycopg.Connection, user: int, content: str, title: str = "t") -> int:
    with caller(db, user):
        return int(one(db, "select id from api.create_entry(%s, %s)", [title, content])[0])


def read_entry(db: psycopg.Connection, user: int, entry_id: int, master_key: str = MASTER_KEY) -> str:
    with caller(db, user, master_key=master_key):
        return str(one(db, "select content from api.get_entry(%s)", [entry_id])[0])


def new_sensitive_order(db: psycopg.Connection, user: int, description: str) -> int:
    with caller(db, user):
        return int(one(db, "select id from api.create_order(%s, true)", [description])[0])


def read_order(db: psycopg.Connection, user: int, order_id: int) -> str:
    with caller(db, user):
        return str(one(db, "select description from api.get_order(%s)", [order_id])[0])


def save_vault(db: psycopg.Connection, user: int, site: str, login: str, secret: str, notes: str | None) -> int:
    with caller(db, user):
        return int(one(db, "select id from api.save_vault_item(%s, %s, %s, %s)", [site, login, secret, notes])[0])


def read_vault(db: psycopg.Connection, user: int, site: str) -> tuple:
    with caller(db, user):
        return one(db, "select site, login, secret, notes from api.lookup_vault(%s)", [site])


# --- round trips -------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", "plain words", ONE_MB, ALL_OF_UNICODE], ids=["empty", "text", "1MB", "unicode"])
def test_note_content_round_trips_through_encryption(db, alice, value):
    entry = new_entry(db, alice, value)
    assert read_entry(db, alice, entry) == value


@pytest.mark.parametrize("value", ["d", UNICODE_SAMPLE, "y" * 10000], ids=["short", "unicode", "longest"])
def test_sensitive_order_description_round_trips_through_encryption(db, alice, value):
    order = new_sensitive_order(db, alice, value)
    assert read_order(db, alice, order) == value


@pytest.mark.parametrize(
    ("login", "secret", "notes"),
    [("", "s", None), ("me", "p" * 1024, ""), (UNICODE_SAMPLE[:255], UNICODE_SAMPLE, UNICODE_SAMPLE)],
    ids=["empty", "longest", "unicode"],
)
def test_every_vault_field_round_trips_through_encryption(db, alice, login, secret, notes):
    save_vault(db, alice, "Site-é-例", login, secret, notes)
    assert read_vault(db, alice, "site-É-例") == ("Site-é-例", login, secret, notes)


def test_no_plaintext_is_stored_next_to_the_ciphertext_nor_in_a_log_table(db, alice):
    marker = "marker-7f1c9b"
    new_entry(db, alice, marker)
    new_sensitive_order(db, alice, marker)
    save_vault(db, alice, marker + ".example", marker, marker, marker)
    encrypted = [r[0] for r in db.execute("select distinct table_name from private.encrypted_columns")]
    assert sorted(encrypted) == ["entries", "orders", "vault"]
    for table in (*encrypted, "logs", "order_logs", "key_logs"):
        dump = one(db, f"select string_agg(t::text, ' ') from {table} t")[0]
        assert dump is not None and marker not in dump, table
    assert one(db, "select count(*) from entries where content is not null")[0] == 0


def test_every_ciphertext_column_is_declared_once_with_a_key_column_that_names_a_data_key(db):
    # Catalog-driven: a bytea *_enc column added to a table and not declared is caught the day it appears.
    in_catalog = set(db.execute(
        "select c.relname::text, a.attname::text from pg_attribute a join pg_class c on c.oid = a.attrelid"
        " join pg_namespace n on n.oid = c.relnamespace and n.nspname = 'public'"
        " where c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped"
        "   and a.atttypid = 'bytea'::regtype and a.attname like '%\\_enc'").fetchall())
    declared = db.execute("select table_name, column_name, key_column from private.encrypted_columns").fetchall()
    assert {(t, c) for t, c, _ in declared} == in_catalog
    assert len(declared) == len(in_catalog)
    references = set(db.execute(
        "select c.conrelid::regclass::text, a.attname::text from pg_constraint c"
        " join pg_attribute a on a.attrelid = c.conrelid and a.attnum = any (c.conkey)"
        " where c.contype = 'f' and c.confrelid = 'public.aes_keys'::regclass").fetchall())
    assert {(t, k) for t, _, k in declared} <= references


def test_every_declared_column_decrypts_in_its_declared_place(db, alice, bob):
    new_entry(db, alice, "a note")
    new_sensitive_order(db, bob, "an order")
    save_vault(db, alice, "example.org", "me", "pw-123456", "some notes")
    save_vault(db, bob, "example.net", "you", "pw-654321", None)
    for table, column, key, owner, place_table, place_column in db.execute(
            "select table_name, column_name, key_column, owner_column, place_table, place_column"
            " from private.encrypted_columns").fetchall():
        with db.transaction():  # as the superuser, who sees every row, with the master key
            db.execute("select set_config('strongroom.master_key', %s, true)", [MASTER_KEY])
            stored, readable = one(db, (
                f"select count({column}), count(private.decrypt({column}, {key}, private.place(%s, %s, "
                f"{owner or 'null'}, id))) from {table}"), [place_table, place_column])
        assert stored > 0 and readable == stored, (table, column)


# --- tampered and swapped ciphertext ---------------------------------------------------------------


def test_a_ciphertext_with_one_byte_flipped_fails_with_the_unreadable_error(db, alice):
    entry = new_entry(db, alice, "do not touch")
    db.execute(
        "update entries set content_enc = set_byte(content_enc, length(content_enc) - 5,"
        " get_byte(content_enc, length(content_enc) - 5) # 1) where id = %s",
        [entry],
    )
    with raises_sqlstate("SRK05"):
        read_entry(db, alice, entry)


def test_a_note_copied_from_another_row_fails_with_the_unreadable_error(db, alice):
    mine = new_entry(db, alice, "mine")
    other = new_entry(db, alice, "other")
    db.execute(
        "update entries set content_enc = (select content_enc from entries where id = %s) where id = %s",
        [other, mine],
    )
    with raises_sqlstate("SRK05"):
        read_entry(db, alice, mine)


def test_a_note_moved_to_another_owner_fails_with_the_unreadable_error(db, alice, bob):
    entry = new_entry(db, alice, "alice's secret")
    db.execute("update entries set user_id = %s where id = %s", [bob, entry])
    with raises_sqlstate("SRK05"):
        read_entry(db, bob, entry)


def test_an_order_description_swapped_with_another_orders_fails_with_the_unreadable_error(db, alice):
    first = new_sensitive_order(db, alice, "first")
    second = new_sensitive_order(db, alice, "second")
    db.execute(
        "update orders o set description_enc = x.description_enc from orders x"
        " where (o.id, x.id) in ((%s, %s), (%s, %s))",
        [first, second, second, first],
    )
    with raises_sqlstate("SRK05"):
        read_order(db, alice, first)


def test_a_vault_secret_copied_into_the_notes_column_fails_with_the_unreadable_error(db, alice):
    save_vault(db, alice, "bank", "me", "hunter2-but-long", "notes")
    db.execute("update vault set notes_enc = secret_enc")
    with raises_sqlstate("SRK05"):
        read_vault(db, alice, "bank")


# --- the data keys and the master key --------------------------------------------------------------


def test_a_data_key_is_stored_only_wrapped_by_the_master_key(db, alice):
    wrapped, check = one(db, "select key_value, master_check from aes_keys where state = 'active'")
    assert wrapped.startswith("-----BEGIN PGP MESSAGE-----")
    raw = one(db, "select pgp_sym_decrypt_bytea(dearmor(%s), %s)", [wrapped, MASTER_KEY])[0]
    assert len(raw) == 32
    assert raw.hex() not in wrapped and bytes(raw) not in wrapped.encode()
    assert check is not None and MASTER_KEY.encode() not in bytes(check)


def test_a_data_key_is_wrapped_with_a_salted_s2k_that_is_not_iterated(db, alice):
    # Iterated S2K (pgcrypto's default, mode 3) costs ~0.5 ms per unwrap, i.e. per crypto transaction,
    # and buys nothing for a random 256-bit master key. Byte 4 of the session key packet is the S2K mode.
    wrapped = one(db, "select dearmor(key_value) from aes_keys where state = 'active'")[0]
    assert (wrapped[0], wrapped[2], wrapped[4]) == (0xC3, 4, 1)


def test_migrate_rewraps_keys_wrapped_with_iterated_s2k_and_they_still_decrypt_their_rows(db, alice):
    entry = new_entry(db, alice, "written under an iterated wrap")
    db.execute(
        "update aes_keys set key_value = armor(pgp_sym_encrypt_bytea("
        " pgp_sym_decrypt_bytea(dearmor(key_value), %s), %s, 'cipher-algo=aes256')) where state = 'active'",
        [MASTER_KEY, MASTER_KEY],
    )
    before = one(db, "select private.wrap_s2k_mode(key_value), key_value from aes_keys where state = 'active'")
    assert before[0] == 3
    raw_before = one(db, "select pgp_sym_decrypt_bytea(dearmor(%s), %s)", [before[1], MASTER_KEY])[0]
    ensure_key(db)  # what `strongroom db migrate` runs with the master key
    mode, wrapped = one(db, "select private.wrap_s2k_mode(key_value), key_value from aes_keys where state = 'active'")
    assert mode == 1
    assert one(db, "select pgp_sym_decrypt_bytea(dearmor(%s), %s)", [wrapped, MASTER_KEY])[0] == raw_before
    assert read_entry(db, alice, entry) == "written under an iterated wrap"
    assert one(db, "select details::jsonb from key_logs where action = 'rewrapped_cheap_s2k'")[0] == {"keys": 1}
    ensure_key(db)
    assert one(db, "select count(*) from key_logs where action = 'rewrapped_cheap_s2k'")[0] == 1


def test_the_first_key_is_created_once(db):
    first = ensure_key(db)
    assert ensure_key(db) == first
    assert one(db, "select count(*) from aes_keys")[0] == 1


def test_a_second_active_key_is_refused_by_the_unique_index(db, alice):
    with pytest.raises(psycopg.errors.UniqueViolation):
        db.execute("insert into aes_keys (key_label, key_value, state, is_active) values ('x', 'y', 'active', true)")


def test_reading_with_a_wrong_master_key_fails_clearly(db, alice):
    entry = new_entry(db, alice, "kept safe")
    with raises_sqlstate("SRK02") as info:
        read_entry(db, alice, entry, master_key=OTHER_MASTER_KEY)
    assert "wrong master key" in str(info.value)


def test_reading_without_a_master_key_fails_clearly(db, alice):
    entry = new_entry(db, alice, "kept safe")
    with raises_sqlstate("SRK01") as info, caller(db, alice, master_key=None):
        db.execute("select content from api.get_entry(%s)", [entry])
    assert "master" in str(info.value).lower()


def test_rotating_with_a_wrong_master_key_fails_and_changes_nothing(db, alice):
    before = db.execute("select * from aes_keys order by id").fetchall()
    with raises_sqlstate("SRK02"):
        rotate(db, OTHER_MASTER_KEY)
    assert db.execute("select * from aes_keys order by id").fetchall() == before


def test_reencrypting_with_a_wrong_master_key_fails_and_changes_nothing(db, db_dsn, alice):
    entry = new_entry(db, alice, "stays put")
    rotate(db)
    before = db.execute("select * from entries order by id").fetchall()
    with raises_sqlstate("SRK02"):
        reencrypt(db_dsn, master_key=OTHER_MASTER_KEY)
    assert db.execute("select * from entries order by id").fetchall() == before
    assert read_entry(db, alice, entry) == "stays put"


# --- rotation, re-encryption, retirement -----------------------------------------------------------


def test_rotation_makes_a_new_active_key_and_old_rows_still_decrypt(db, alice):
    old = one(db, "select id from aes_keys where state = 'active'")[0]
    entry = new_entry(db, alice, "written before rotation")
    new = rotate(db)
    status = key_status(db)
    assert status[old]["state"] == "decrypt_only" and status[old]["rotated_at"] is not None
    assert status[new]["state"] == "active"
    assert status[old]["entries_rows"] == 1
    assert read_entry(db, alice, entry) == "written before rotation"
    later = new_entry(db, alice, "written after")
    assert one(db, "select content_key_id from entries where id = %s", [later])[0] == new


def test_reencrypt_moves_every_row_to_the_active_key_and_logs_progress(db, db_dsn, alice):
    entries = [new_entry(db, alice, f"note {i}") for i in range(7)]
    orders = [new_sensitive_order(db, alice, f"order {i}") for i in range(3)]
    save_vault(db, alice, "example.org", "me", "pw-123456", None)
    old = one(db, "select id from aes_keys where state = 'active'")[0]
    new = rotate(db)
    reencrypt(db_dsn, batch_size=3)
    status = key_status(db)
    assert status[old]["total_rows"] == 0
    assert status[new]["total_rows"] == 11
    assert [read_entry(db, alice, e) for e in entries] == [f"note {i}" for i in range(7)]
    assert [read_order(db, alice, o) for o in orders] == [f"order {i}" for i in range(3)]
    assert read_vault(db, alice, "EXAMPLE.org")[2] == "pw-123456"
    progress = [
        r[0]
        for r in db.execute(
            "select (details::jsonb ->> 'rows_left')::int from key_logs where action = 'reencrypt_batch' order by id"
        )
    ]
    assert progress == [8, 5, 2, 0]
    assert one(db, "select count(*) from key_logs where action = 'reencrypt_done'")[0] == 1


def test_retire_refuses_while_rows_use_the_key(db, alice):
    new_entry(db, alice, "still here")
    old = one(db, "select id from aes_keys where state = 'active'")[0]
    rotate(db)
    with raises_sqlstate("SRC51") as info, caller(db, None, "admin", None):
        db.execute("select * from api.retire_key(%s)", [old])
    assert "still used by 1 rows" in str(info.value)


def test_retire_refuses_the_active_key(db, alice):
    active = one(db, "select id from aes_keys where state = 'active'")[0]
    with raises_sqlstate("SRC51"), caller(db, None, "admin", None):
        db.execute("select * from api.retire_key(%s)", [active])


def test_retire_after_reencrypt_destroys_the_material_and_data_still_decrypts(db, db_dsn, alice):
    entry = new_entry(db, alice, "survives retirement")
    old = one(db, "select id from aes_keys where state = 'active'")[0]
    rotate(db)
    reencrypt(db_dsn)
    with caller(db, None, "admin", None):
        db.execute("select * from api.retire_key(%s)", [old])
    assert one(db, "select state, key_value from aes_keys where id = %s", [old]) == ("retired", "")
    assert read_entry(db, alice, entry) == "survives retirement"
    assert one(db, "select count(*) from key_logs where key_id = %s and action = 'retired'", [old])[0] == 1


def test_rewrap_master_moves_every_key_to_the_new_master_and_data_is_untouched(db, alice):
    entry = new_entry(db, alice, "rewrapped")
    rotate(db)
    before = one(db, "select content_enc from entries where id = %s", [entry])[0]
    with caller(db, None, "admin"):
        db.execute("select set_config('strongroom.new_master_key', %s, true)", [OTHER_MASTER_KEY])
        assert one(db, "select rewrapped from api.rewrap_master()")[0] == 2
    assert one(db, "select content_enc from entries where id = %s", [entry])[0] == before
    assert read_entry(db, alice, entry, master_key=OTHER_MASTER_KEY) == "rewrapped"
    with raises_sqlstate("SRK02"):
        read_entry(db, alice, entry, master_key=MASTER_KEY)


def test_rewrap_master_with_a_wrong_current_master_fails_and_changes_nothing(db, alice):
    before = db.execute("select * from aes_keys order by id").fetchall()
    with raises_sqlstate("SRK02"), caller(db, None, "admin", OTHER_MASTER_KEY):
        db.execute("select set_config('strongroom.new_master_key', %s, true)", [MASTER_KEY + "new"])
        db.execute("select * from api.rewrap_master()")
    assert db.execute("select * from aes_keys order by id").fetchall() == before


def test_key_events_log_who_acted_and_never_key_material(db, db_dsn, alice):
    new_entry(db, alice, "x")
    old = one(db, "select id from aes_keys where state = 'active'")[0]
    rotate(db)
    reencrypt(db_dsn)
    with caller(db, None, "admin", None):
        db.execute("select * from api.retire_key(%s)", [old])
    logs = " ".join(str(r) for r in db.execute("select * from key_logs").fetchall())
    for (wrapped,) in db.execute("select key_value from aes_keys where key_value <> ''").fetchall():
        raw = one(db, "select encode(pgp_sym_decrypt_bytea(dearmor(%s), %s), 'hex')", [wrapped, MASTER_KEY])[0]
        assert raw not in logs and wrapped not in logs
    assert MASTER_KEY not in logs
    actions = [r[0] for r in db.execute("select action from key_logs order by id")]
    assert actions[:2] == ["created", "created"] and "rotated" in actions and actions[-1] == "retired"
    assert one(db, "select count(*) from key_logs where db_role is null")[0] == 0


@pytest.mark.parametrize(
    "call",
    [
        "select * from api.key_status()",
        "select * from api.rotate_key()",
        "select * from api.reencrypt_batch(10)",
        "select * from api.retire_key(1)",
        "select * from api.rewrap_master()",
    ],
)
def test_users_cannot_manage_keys(db, alice, call):
    with pytest.raises(psycopg.errors.InsufficientPrivilege), caller(db, alice):
        db.execute(call)


def test_notes_left_in_clear_by_an_older_version_are_encrypted_by_migrate(db, alice):
    # Simulate a database from before content was encrypted: plaintext in the seed column.
    db.execute("alter table entries drop constraint entries_content_never_plaintext")
    db.execute("insert into entries (user_id, title, content) values (%s, 'old', 'legacy plaintext')", [alice])
    db.execute("alter table entries add constraint entries_content_never_plaintext check (content is null) not valid")
    ensure_key(db)
    legacy = one(db, "select id, content, content_enc is not null from entries where title = 'old'")
    assert legacy[1:] == (None, True)
    assert read_entry(db, alice, legacy[0]) == "legacy plaintext"
    assert one(db, "select convalidated from pg_constraint where conname = 'entries_content_never_plaintext'")[0]


def test_plaintext_in_the_seed_content_column_is_refused(db, alice):
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute("insert into entries (user_id, title, content) values (%s, 't', 'plain')", [alice])


def test_key_maintenance_sees_every_users_rows_under_forced_row_level_security(db, db_dsn, alice, bob):
    for table in ("entries", "orders"):
        db.execute(f"alter table {table} enable row level security")
        db.execute(f"alter table {table} force row level security")
    mine, theirs = new_entry(db, alice, "alice's"), new_entry(db, bob, "bob's")
    new_sensitive_order(db, bob, "bob's order")
    save_vault(db, alice, "a.example", "me", "pw", None)
    old = one(db, "select id from aes_keys where state = 'active'")[0]
    rotate(db)
    assert (key_status(db)[old]["entries_rows"], key_status(db)[old]["total_rows"]) == (2, 4)
    with raises_sqlstate("SRC51"), caller(db, None, "admin", None):
        db.execute("select * from api.retire_key(%s)", [old])
    reencrypt(db_dsn, batch_size=1)
    assert key_status(db)[old]["total_rows"] == 0
    assert (read_entry(db, alice, mine), read_entry(db, bob, theirs)) == ("alice's", "bob's")
    with caller(db, bob):
        assert db.execute("select content from api.get_entry(%s)", [mine]).fetchall() == []


def test_the_api_cannot_manage_keys_for_a_caller_whose_claims_are_not_admin(db, connect, alice):
    """A user's request that switches to the admin role (or forges the old role setting) is no key admin."""
    api = connect(user="strongroom_authenticator", autocommit=True)
    with raises_sqlstate("SRF51"), caller(api, alice, "user", None):
        api.execute("select set_config('strongroom.role', 'admin', true), set_config('role', 'strongroom_admin', true)")
        api.execute("select * from api.key_status()")


def test_rewrap_master_refuses_a_weak_or_unchanged_new_key(db, alice):
    for new in ("short", MASTER_KEY):
        with raises_sqlstate("SRK06"), caller(db, None, "admin"):
            db.execute("select set_config('strongroom.new_master_key', %s, true)", [new])
            db.execute("select * from api.rewrap_master()")


def test_migrate_with_the_master_key_creates_the_first_key_once(pg):
    from api.postgres.migrate import migrate

    name = "strongroom_first_key"
    with psycopg.connect(pg.dsn(), autocommit=True) as admin:
        admin.execute(f'drop database if exists "{name}" with (force)')
        admin.execute(f'create database "{name}"')
    try:
        migrate(pg.dsn(name), master_key=MASTER_KEY, say=lambda _: None)
        with psycopg.connect(pg.dsn(name), autocommit=True) as conn:
            conn.execute("update private.installed_code set sha256 = repeat('0', 64)")  # force a re-apply
        migrate(pg.dsn(name), master_key=MASTER_KEY, say=lambda _: None)
        with psycopg.connect(pg.dsn(name), autocommit=True) as conn:
            assert conn.execute("select state from aes_keys").fetchall() == [("active",)]
            with caller(conn, None, "admin"):
                conn.execute("select * from api.rotate_key()")  # the master key unwraps it
    finally:
        with psycopg.connect(pg.dsn(), autocommit=True) as admin:
            admin.execute(f'drop database if exists "{name}" with (force)')


def test_an_admin_cannot_look_into_another_users_vault(db, alice):
    save_vault(db, alice, "private.example", "me", "mine-only", None)
    admin = make_user(db, "root", "admin")
    with raises_sqlstate("SRN52"), caller(db, admin, "admin"):
        db.execute("select * from api.lookup_vault('private.example')")


def test_no_unwrapped_key_outlives_the_transaction_that_used_it(db, alice):
    entry = new_entry(db, alice, "cached only briefly")
    key = one(db, "select content_key_id from entries where id = %s", [entry])[0]
    with caller(db, alice):
        db.execute("select content from api.get_entry(%s)", [entry])
        assert len(one(db, "select current_setting(%s, true)", [f"strongroom.dk_{key}"])[0]) == 64
    after = one(
        db, "select current_setting(%s, true), current_setting('strongroom.master_key', true)", [f"strongroom.dk_{key}"]
    )
    assert all(value in (None, "") for value in after)


def test_a_long_reencrypt_counts_rows_left_only_now_and_then_but_always_at_the_end(db, db_dsn, alice):
    for i in range(10):
        new_entry(db, alice, f"n{i}")
    rotate(db)
    reencrypt(db_dsn, batch_size=2, count_every=3600)
    logged = [
        r[0]
        for r in db.execute(
            "select details::jsonb ->> 'rows_left' from key_logs where action = 'reencrypt_batch' order by id"
        )
    ]
    assert logged == ["8", None, None, None, None]
    assert one(db, "select count(*) from key_logs where action = 'reencrypt_done'")[0] == 1
    assert key_status(db)[1]["total_rows"] == 0
