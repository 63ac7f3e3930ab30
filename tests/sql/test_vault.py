"""The password vault and the password generator (sql/52_api_vault.sql), proven in SQL."""

from __future__ import annotations

import math
import string
from collections import Counter

import psycopg
import pytest

from tests.sql.crypto_support import caller, one, raises_sqlstate, reencrypt, rotate, rows_read_by_page

LOOKALIKES = set("0Oo1lI|")
SYMBOLS = set("!#$%&()*+,-./:;<=>?@[]^_{|}~")


def save(
    db: psycopg.Connection,
    user: int,
    site: str,
    login: str = "me",
    secret: str = "pw",
    notes: str | None = None,
):
    with caller(db, user):
        return int(one(db, "select id from api.save_vault_item(%s, %s, %s, %s)", [site, login, secret, notes])[0])


def lookup(db: psycopg.Connection, user: int, site: str) -> list[tuple]:
    with caller(db, user):
        return db.execute("select site, login, secret, notes from api.lookup_vault(%s)", [site]).fetchall()


@pytest.mark.parametrize(
    "asked",
    ["example.com", "EXAMPLE.COM", "  Example.Com ", "\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com"],
)
def test_look_up_by_site_is_exact_and_case_insensitive(db, alice, asked):
    save(db, alice, "Example.com", "alice@example.com", "correct horse", "2FA on phone")
    assert lookup(db, alice, asked) == [("Example.com", "alice@example.com", "correct horse", "2FA on phone")]


def test_look_up_does_not_match_a_different_site(db, alice):
    save(db, alice, "example.com")
    with raises_sqlstate("SRN52"):
        lookup(db, alice, "example.co")


def test_look_up_never_returns_another_users_item(db, alice, bob):
    save(db, alice, "shared.example", "alice", "alice-secret")
    save(db, bob, "shared.example", "bob", "bob-secret")
    assert lookup(db, bob, "SHARED.example") == [("shared.example", "bob", "bob-secret", None)]
    assert lookup(db, alice, "shared.example") == [("shared.example", "alice", "alice-secret", None)]


def test_the_same_site_of_two_users_has_different_blind_indexes(db, alice, bob):
    save(db, alice, "same.example")
    save(db, bob, "same.example")
    assert one(db, "select count(distinct site_index) from vault")[0] == 2


def test_saving_the_same_site_and_login_again_replaces_the_secret(db, alice):
    first = save(db, alice, "bank.example", "me", "old-password")
    second = save(db, alice, "BANK.example", "me", "new-password")
    save(db, alice, "bank.example", "partner", "theirs")
    assert first == second
    assert sorted(lookup(db, alice, "bank.example")) == [
        ("BANK.example", "me", "new-password", None),
        ("bank.example", "partner", "theirs", None),
    ]


def test_nothing_about_an_item_is_stored_in_clear(db, alice):
    save(db, alice, "marker-site.example", "marker-login", "marker-secret", "marker-notes")
    row = one(db, "select v::text from vault v")[0]
    assert "marker" not in row and "6d61726b6572" not in row  # nor its hex


def test_list_shows_sites_and_logins_without_secrets_newest_first(db, alice, bob):
    save(db, alice, "A.example", "me")
    save(db, alice, "b.example", "me")
    save(db, bob, "c.example", "bob")
    save(db, alice, "A.example", "me", "a new password")  # replaced in place: keeps its place in the list
    with caller(db, alice):
        rows = db.execute("select site, login from api.list_vault_sites()").fetchall()
    assert rows == [("b.example", "me"), ("A.example", "me")]


def test_the_list_pages_by_keyset(db, alice):
    ids = [save(db, alice, f"site{n}.example") for n in range(5)]
    with caller(db, alice):
        first = [r[0] for r in db.execute("select id from api.list_vault_sites(null, 2)")]
        second = [r[0] for r in db.execute("select id from api.list_vault_sites(%s, 2)", [first[-1]])]
        last = [r[0] for r in db.execute("select id from api.list_vault_sites(%s, 2)", [second[-1]])]
    assert first + second + last == ids[::-1]


@pytest.mark.parametrize("limit", [0, 501, None])
def test_a_page_holds_1_to_500_items(db, alice, limit):
    with caller(db, alice), raises_sqlstate("SRP50"):
        db.execute("select * from api.list_vault_sites(null, %s)", [limit])


@pytest.mark.parametrize("plans", ["force_generic_plan", "force_custom_plan"])
@pytest.mark.parametrize("page", ["first", "deep"])
def test_a_page_reads_and_decrypts_only_its_own_rows(db, alice, bob, plans, page):
    # As for orders (tests/sql/test_orders.py): Alice's old items beside Bob's newer ones. The list used to
    # decrypt every item to sort them by site; now the page's ids come from the (user_id, id) index.
    for user in (alice, bob):
        with caller(db, user):
            db.execute("select api.save_vault_item('s' || n, 'me', 'pw') from generate_series(1, 150) n")
    before = None if page == "first" else one(
        db, "select id from public.vault where user_id = %s order by id offset 20 limit 1", [alice])[0]
    returned, read = rows_read_by_page(db, alice, "public.vault", "select id from api.list_vault_sites(%s, 10)",
                                       before, plans)
    assert returned == 10
    assert read <= 2 * returned  # the ids, then the page's rows


def test_look_up_works_on_an_old_key_and_after_reencryption(db, db_dsn, alice):
    save(db, alice, "rotating.example", "me", "still-here")
    rotate(db)
    assert lookup(db, alice, "Rotating.example")[0][2] == "still-here"
    reencrypt(db_dsn)
    assert one(db, "select key_id from vault")[0] == one(db, "select id from aes_keys where state = 'active'")[0]
    assert lookup(db, alice, "ROTATING.example")[0][2] == "still-here"


def test_delete_removes_only_the_callers_item(db, alice, bob):
    item = save(db, alice, "x.example")
    with caller(db, bob):
        assert db.execute("select * from api.delete_vault_item(%s)", [item]).fetchall() == []
    assert one(db, "select count(*) from vault")[0] == 1
    with caller(db, alice):
        assert db.execute("select * from api.delete_vault_item(%s)", [item]).fetchall() == [(item,)]
    assert one(db, "select count(*) from vault")[0] == 0


def test_the_vault_table_hides_other_users_rows_even_from_its_owner(db, alice, bob):
    save(db, alice, "a.example")
    with caller(db, bob):
        db.execute("reset role")
        db.execute("set local role strongroom_owner")
        assert one(db, "select count(*) from vault")[0] == 0
    assert one(db, "select relforcerowsecurity from pg_class where oid = 'public.vault'::regclass")[0]


# --- the password generator ------------------------------------------------------------------------


def generate(db: psycopg.Connection, length: int = 20, *classes: bool, lookalikes: bool = False) -> str:
    flags = list(classes) if classes else [True, True, True, True]
    return str(one(db, "select api.generate_password(%s, %s, %s, %s, %s, %s)", [length, *flags, lookalikes])[0])


@pytest.mark.parametrize("length", [8, 9, 64, 128])
def test_a_generated_password_has_the_asked_length(db, length):
    assert len(generate(db, length)) == length


@pytest.mark.parametrize("length", [7, 129, None])
def test_a_length_outside_8_to_128_is_refused(db, length):
    with raises_sqlstate("SRP52"):
        generate(db, length)


@pytest.mark.parametrize("lookalikes", [False, True])
def test_no_class_at_all_is_refused(db, lookalikes):
    with raises_sqlstate("SRP52"):
        generate(db, 20, False, False, False, False, lookalikes=lookalikes)


@pytest.mark.parametrize(
    ("flags", "alphabet"),
    [
        ((True, False, False, False), set(string.ascii_lowercase)),
        ((False, True, False, False), set(string.ascii_uppercase)),
        ((False, False, True, False), set(string.digits)),
        ((False, False, False, True), SYMBOLS),
        ((True, False, True, False), set(string.ascii_lowercase + string.digits)),
    ],
)
def test_a_generated_password_uses_only_the_chosen_classes(db, flags, alphabet):
    for _ in range(20):
        assert set(generate(db, 32, *flags)) <= alphabet


def test_every_chosen_class_appears_even_in_the_shortest_password(db):
    classes = [set(string.ascii_lowercase), set(string.ascii_uppercase), set(string.digits), SYMBOLS]
    for _ in range(200):
        password = set(generate(db, 8))
        assert all(password & c for c in classes)


def test_look_alikes_can_be_excluded(db):
    seen = set().union(*(generate(db, 128, lookalikes=True) for _ in range(30)))
    assert not seen & LOOKALIKES
    assert len(seen) > 60


def test_characters_are_drawn_without_bias(db):
    # 88 symbols (lower, upper, digits, 28 symbols: 256 % 88 != 0, so a biased modulo would show),
    # 60,000 characters. The chi-squared statistic must stay under the critical value at p = 0.001.
    text = "".join(
        r[0]
        for r in db.execute(
            "select api.generate_password(120, true, true, true, true, false) from generate_series(1, 500)"
        )
    )
    counts = Counter(text)
    k = 26 + 26 + 10 + len(SYMBOLS)
    assert len(counts) == k
    expected = len(text) / k
    chi2 = sum((counts[c] - expected) ** 2 / expected for c in counts)
    dof = k - 1
    z = 3.090  # one-sided 0.999 quantile of the standard normal
    critical = dof * (1 - 2 / (9 * dof) + z * math.sqrt(2 / (9 * dof))) ** 3  # Wilson-Hilferty
    assert chi2 < critical, (chi2, critical)
