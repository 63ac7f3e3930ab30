"""Orders: statuses, transitions, the sensitive flag and visibility (sql/50_api_orders.sql), proven in SQL."""

from __future__ import annotations

import psycopg
import pytest

from tests.sql.crypto_support import caller, make_user, one, raises_sqlstate, rows_read_by_page

STATUSES = ["pending", "processing", "shipped", "cancelled"]
ALLOWED = {
    ("pending", "processing"),
    ("processing", "shipped"),
    ("pending", "cancelled"),
    ("processing", "cancelled"),
}
# How to bring a new order to each status, by allowed steps.
PATH = {
    "pending": [],
    "processing": ["processing"],
    "shipped": ["processing", "shipped"],
    "cancelled": ["cancelled"],
}


@pytest.fixture
def admin(db: psycopg.Connection) -> int:
    return make_user(db, "admin", "admin")


def create(db: psycopg.Connection, user: int, description: str = "an order", sensitive: bool = False) -> int:
    with caller(db, user):
        return int(one(db, "select id from api.create_order(%s, %s)", [description, sensitive])[0])


def move(db: psycopg.Connection, admin: int, order: int, status: str) -> str:
    with caller(db, admin, "admin"):
        return str(one(db, "select status from api.set_order_status(%s, %s)", [order, status])[0])


def test_a_new_order_is_pending_and_owned_by_its_creator(db, alice):
    order = create(db, alice, "two chairs")
    with caller(db, alice):
        row = one(db, "select user_id, description, sensitive, status from api.get_order(%s)", [order])
    assert row == (alice, "two chairs", False, "pending")


@pytest.mark.parametrize("start", STATUSES)
@pytest.mark.parametrize("target", STATUSES)
def test_only_the_allowed_transitions_happen(db, alice, admin, start, target):
    order = create(db, alice)
    for step in PATH[start]:
        move(db, admin, order, step)
    if (start, target) in ALLOWED:
        assert move(db, admin, order, target) == target
    else:
        with raises_sqlstate("SRC50") as info:
            move(db, admin, order, target)
        assert start in str(info.value)
        assert one(db, "select status from orders where id = %s", [order])[0] == start


def test_a_refused_transition_says_why(db, alice, admin):
    order = create(db, alice)
    with raises_sqlstate("SRC50") as info:
        move(db, admin, order, "shipped")
    assert "it must be processing first" in str(info.value)


def test_the_transition_rule_holds_for_a_direct_update_too(db, alice, admin):
    order = create(db, alice)
    move(db, admin, order, "cancelled")
    with raises_sqlstate("SRC50"):
        db.execute("update orders set status = 'pending' where id = %s", [order])


def test_an_unknown_status_is_refused(db, alice, admin):
    order = create(db, alice)
    with raises_sqlstate("SRP51"):
        move(db, admin, order, "lost")
    with raises_sqlstate("SRC50"):  # directly in the table: the transition trigger refuses it too
        db.execute("update orders set status = 'lost' where id = %s", [order])


def test_a_user_may_cancel_their_own_order(db, alice):
    order = create(db, alice)
    with caller(db, alice):
        assert one(db, "select status from api.set_order_status(%s, 'cancelled')", [order])[0] == "cancelled"


def test_a_user_may_not_ship_their_own_order(db, alice):
    order = create(db, alice)
    with raises_sqlstate("SRF52"), caller(db, alice):
        db.execute("select api.set_order_status(%s, 'processing')", [order])


@pytest.mark.parametrize(
    "call", ["select * from api.get_order(%s)", "select * from api.set_order_status(%s, 'cancelled')",
             "select * from api.order_history(%s)"]
)
def test_another_users_order_is_not_found(db, alice, bob, call):
    order = create(db, alice)
    with caller(db, bob):
        assert db.execute(call, [order]).fetchall() == []
    assert one(db, "select status from orders where id = %s", [order])[0] == "pending"


def test_users_list_their_own_orders_and_admins_list_all(db, alice, bob, admin):
    mine = create(db, alice)
    theirs = create(db, bob)
    with caller(db, alice):
        assert [r[0] for r in db.execute("select id from api.list_orders()")] == [mine]
    with caller(db, admin, "admin"):
        assert [r[0] for r in db.execute("select id from api.list_orders()")] == [theirs, mine]


def test_the_list_filters_by_status_and_pages_newest_first(db, alice, admin):
    orders = [create(db, alice, f"o{i}") for i in range(5)]
    move(db, admin, orders[1], "cancelled")
    with caller(db, alice):
        pending = [r[0] for r in db.execute("select id from api.list_orders('pending')")]
        page1 = [r[0] for r in db.execute("select id from api.list_orders(null, null, 2)")]
        page2 = [r[0] for r in db.execute("select id from api.list_orders(null, %s, 2)", [page1[-1]])]
    assert pending == [orders[4], orders[3], orders[2], orders[0]]
    assert page1 + page2 == orders[:0:-1][:4]


def test_the_list_refuses_an_unknown_status_filter(db, alice):
    with raises_sqlstate("SRP50"), caller(db, alice):
        db.execute("select * from api.list_orders('lost')")


def test_a_sensitive_orders_description_is_stored_only_encrypted(db, alice, admin):
    order = create(db, alice, "secret formula", sensitive=True)
    clear, enc, key = one(
        db, "select description, description_enc, description_key_id from orders where id = %s", [order]
    )
    assert clear == "" and b"secret formula" not in bytes(enc) and key is not None
    with caller(db, admin, "admin"):
        assert one(db, "select description from api.get_order(%s)", [order])[0] == "secret formula"


def test_a_plain_orders_description_is_stored_in_clear_without_a_key(db, alice):
    order = create(db, alice, "a lamp")
    assert one(db, "select description, description_enc, description_key_id from orders where id = %s", [order]) == (
        "a lamp",
        None,
        None,
    )


def test_a_sensitive_order_cannot_keep_its_description_in_clear(db, alice):
    order = create(db, alice, "hidden", sensitive=True)
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute("update orders set description = 'hidden' where id = %s", [order])


@pytest.mark.parametrize("description", ["", "  ", "x" * 10001])
def test_a_bad_description_is_refused(db, alice, description):
    with raises_sqlstate("SRP50"):
        create(db, alice, description)


@pytest.mark.parametrize(("role", "status", "refused"), [
    ("user", "pending", None), ("user", "processing", "SRF52"), ("user", "shipped", "SRF52"),
    ("user", "cancelled", "SRF52"), ("admin", "processing", None), ("admin", "shipped", "SRF52"),
    ("user", "done", "SRP51"), ("admin", "Cancelled", "SRP51"),
])
def test_who_may_create_an_order_in_which_status_is_ruled_in_sql(db, alice, admin, role, status, refused):
    who = alice if role == "user" else admin
    with caller(db, who, role):
        if refused is None:
            assert one(db, "select status from api.create_order('x', false, %s)", [status])[0] == status
        else:
            with raises_sqlstate(refused):
                db.execute("select * from api.create_order('x', false, %s)", [status])


def test_an_unknown_status_is_refused_before_the_role_is_looked_at(db, alice):
    order = create(db, alice)
    with caller(db, alice), raises_sqlstate("SRP51") as info:
        db.execute("select * from api.set_order_status(%s, 'done')", [order])
    assert all(s in str(info.value) for s in STATUSES)


@pytest.mark.parametrize("plans", ["force_generic_plan", "force_custom_plan"])
@pytest.mark.parametrize("page", ["first", "deep"])
def test_a_page_reads_only_its_own_rows_whatever_else_the_table_holds(db, alice, bob, plans, page):
    # Paging stays flat: the page's ids come from the (user_id, id) index, then only those rows are read.
    # A plan that walks the primary key past Bob's newer orders, or reads all of Alice's to sort them,
    # fetches hundreds of rows for a page of ten.
    db.execute("insert into public.orders (user_id, description) select %s, 'old' from generate_series(1, 300)",
               [alice])
    db.execute("insert into public.orders (user_id, description) select %s, 'new' from generate_series(1, 300)",
               [bob])
    before = None if page == "first" else one(
        db, "select id from public.orders where user_id = %s order by id offset 20 limit 1", [alice])[0]
    returned, read = rows_read_by_page(db, alice, "public.orders", "select id from api.list_orders(null, %s, 10)",
                                       before, plans)
    assert returned == 10
    assert read <= 2 * returned  # the ids, then the page's rows
