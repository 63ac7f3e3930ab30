"""A user cannot read another user's order: proven in SQL, acting exactly as the API does."""

from __future__ import annotations

from collections.abc import Callable

import psycopg

from api.testing.plugin import Account


def test_a_user_cannot_read_another_users_order(make_account: Callable[..., Account],
                                                act_as: Callable[..., psycopg.Connection],
                                                superuser: psycopg.Connection, order_text: str) -> None:
    alice, bob = make_account("alice"), make_account("bob")

    as_alice = act_as(alice)  # the API's login, after api.begin_request for alice
    order_id = as_alice.execute("select id from api.create_order(%s)", [order_text]).fetchone()[0]
    as_alice.commit()

    as_bob = act_as(bob)
    assert as_bob.execute("select * from api.get_order(%s)", [order_id]).fetchall() == []
    assert as_bob.execute("select count(*) from public.orders").fetchone() == (0,)
    as_bob.commit()

    owner = superuser.execute("select user_id from public.orders where id = %s", [order_id]).fetchone()
    assert owner == (alice.user_id,)
