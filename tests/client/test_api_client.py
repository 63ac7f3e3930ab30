"""The Python client (api/client.py) against the real API: uvicorn serving `api.http.app:app` on this test's
database. What a script or a notebook does with it: every resource, errors with their problem document,
DataFrames, a silent refresh, and no decrypted secret kept anywhere but in what a method returned."""

from __future__ import annotations

import collections
import gc
import time
import types

import pandas as pd
import pytest

from api.client import ApiClient, ApiError, Rows, SessionExpired
from tests.gui.harness import PASSWORD

SECRET = "the vault's own secret: 7Yq!pz"
NOTE = "the note nobody else may read"


@pytest.fixture
def alice(real_api):
    real_api.register("alice")
    with ApiClient(real_api.url, user_agent="strongroom-python") as api:
        api.login("alice", PASSWORD)
        yield api


@pytest.fixture
def admin(real_api, make_admin):
    real_api.register("root-admin")
    make_admin("root-admin")
    with ApiClient(real_api.url) as api:
        api.login("root-admin", PASSWORD)
        yield api


def test_orders_plain_and_encrypted_round_trip_with_their_history(alice, db):
    plain = alice.create_order("20 boxes of A4 paper")
    secret = alice.create_order("a classified shipment", encrypt=True)
    assert alice.get_order(secret["id"])["description"] == "a classified shipment"
    stored = db.execute("select description from orders where id = %s", [secret["id"]]).fetchone()[0]
    assert "classified" not in str(stored)
    alice.set_order_status(plain["id"], "cancelled")
    history = alice.order_history(plain["id"])
    assert [event["action"] for event in history] == ["created", "status_changed"]
    assert {order["id"] for order in alice.all_orders()} == {plain["id"], secret["id"]}
    assert [order["id"] for order in alice.all_orders(status="cancelled")] == [plain["id"]]


def test_all_orders_walks_every_page(alice):
    made = {alice.create_order(f"order {n}")["id"] for n in range(5)}
    first, cursor = alice.list_orders(limit=2)
    assert len(first) == 2 and cursor is not None
    assert {order["id"] for order in alice._all(lambda c: alice.list_orders(None, 2, c), 100)} == made


def test_notes_vault_logs_and_account_resources(alice):
    note = alice.create_entry("plans", NOTE)
    assert alice.get_entry(note["id"])["content"] == NOTE
    alice.update_entry(note["id"], "plans v2", NOTE)
    assert [n["title"] for n in alice.list_entries()] == ["plans v2"]
    alice.delete_entry(note["id"])
    assert alice.list_entries() == []

    generated = alice.generate_password(24, ["lower", "digits"], exclude_lookalikes=True)
    assert len(generated) == 24 and generated.isalnum()
    item = alice.save_password("example.org", "alice@example.org", SECRET)
    assert [site["website"] for site in alice.list_sites()] == ["example.org"]
    assert [row["password"] for row in alice.lookup_password("example.org")] == [SECRET]
    alice.delete_password(item["id"])
    assert alice.list_sites() == []

    alice.post_log("INFO", "hello from a notebook", component="notebook")
    assert any(row["message"] == "hello from a notebook" for row in alice.all_logs())
    assert alice.me()["username"] == "alice"
    assert alice.health()["status"] == "ok"
    assert alice.ready()["status"] == "ready"


def test_an_error_is_an_exception_carrying_the_problem_document(alice):
    with pytest.raises(ApiError) as raised:
        alice.get_order(987654)
    error = raised.value
    assert error.status == 404
    assert error.problem["code"] == "not_found" and error.code == "not_found"
    assert error.request_id and error.problem["request_id"] == error.request_id
    assert error.problem["instance"] == "/orders/987654"


def test_a_wrong_password_is_an_api_error_and_leaves_no_session(real_api):
    real_api.register("bob")
    with ApiClient(real_api.url) as api:
        with pytest.raises(ApiError) as raised:
            api.login("bob", "not the password at all")
        assert raised.value.status == 401
        assert api.session is None
        with pytest.raises(SessionExpired):
            api.me()


def test_a_token_about_to_expire_is_refreshed_silently(alice):
    before = alice.session
    assert before is not None
    before.expires_at = time.time() + 1  # inside the refresh margin: the next call refreshes first
    assert alice.me()["username"] == "alice"
    assert alice.session is not None and alice.session.access_token != before.access_token
    assert alice.session.refresh_token != before.refresh_token


def test_changing_the_password_keeps_this_client_logged_in_and_logout_everywhere_ends_it(alice):
    alice.change_password(PASSWORD, "a brand new and long passphrase")
    assert alice.me()["username"] == "alice"
    alice.logout_everywhere()
    assert alice.session is None


def test_frames_have_typed_time_columns_and_vault_frames_no_secret(alice):
    order = alice.create_order("paper", encrypt=True)
    alice.set_order_status(order["id"], "cancelled")
    alice.create_entry("plans", NOTE)
    alice.save_password("example.org", "alice@example.org", SECRET)
    orders = alice.all_orders().to_frame()
    assert list(orders.index) == [order["id"]]
    assert isinstance(orders["created_at"].dtype, pd.DatetimeTZDtype)
    history = alice.order_history(order["id"]).to_frame()
    assert list(history["action"]) == ["created", "status_changed"]
    notes = alice.list_entries().to_frame()
    assert list(notes["title"]) == ["plans"] and NOTE not in notes.to_string()
    sites = alice.list_sites().to_frame()
    assert "secret" not in sites.columns and SECRET not in sites.to_string()
    logs = alice.all_logs().to_frame()
    assert isinstance(logs["at"].dtype, pd.DatetimeTZDtype)
    assert "<table" in alice.list_sites()._repr_html_()


def test_a_vault_list_never_frames_a_secret_column_even_if_one_arrives():
    assert "secret" not in Rows([{"id": 1, "site": "x", "secret": SECRET}], secrets=False).to_frame().columns


SKIPPED = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.CodeType)


def _reachable_strings(root: object, limit: int = 200_000) -> set[str]:
    """Every string reachable from `root` through the objects it refers to (not through code or modules)."""
    seen: set[int] = set()
    found: set[str] = set()
    todo = collections.deque([root])
    while todo:
        item = todo.popleft()
        if id(item) in seen or isinstance(item, SKIPPED):
            continue
        seen.add(id(item))
        assert len(seen) < limit, "the walk went too far to be conclusive"
        if isinstance(item, str | bytes | bytearray):
            found.add(item if isinstance(item, str) else bytes(item).decode(errors="replace"))
            continue
        todo.extend(gc.get_referents(item))
    return found


def test_the_client_keeps_no_decrypted_secret_after_returning_it(alice):
    alice.save_password("example.org", "alice@example.org", SECRET)
    note = alice.create_entry("plans", NOTE)
    looked_up = alice.lookup_password("example.org")
    read = alice.get_entry(note["id"])
    assert looked_up[0]["password"] == SECRET and read["content"] == NOTE
    del looked_up, read
    gc.collect()
    kept = _reachable_strings(alice)
    assert not any(SECRET in text or NOTE in text for text in kept)
    assert alice.session.access_token in kept  # the walk does reach what the client holds


def test_an_admin_manages_users_and_keys_through_the_client(admin, real_api):
    real_api.register("carol")
    carol = next(user["user_id"] for user in admin.list_users() if user["username"] == "carol")
    admin.user_action(carol, "disable")
    admin.user_action(carol, "enable")
    admin.set_user_role(carol, "auditor")
    assert admin.list_users().to_frame().set_index("user_id").loc[carol, "role"] == "auditor"

    admin.create_order("on the first key", encrypt=True)
    old = admin.list_keys()
    admin.rotate_key()
    seen = []
    done = admin.reencrypt_all(batch_size=1, on_progress=seen.append)
    assert done.done and done.rows_left == 0 and done.moved >= 1 and seen[-1] == done
    old_id = next(key["id"] for key in old if key["state"] == "active")
    assert admin.retire_key(old_id)
    states = {key["id"]: key["state"] for key in admin.list_keys()}
    assert states[old_id] == "retired"


def test_a_plain_user_is_refused_the_admin_resources_with_a_problem(alice):
    with pytest.raises(ApiError) as raised:
        alice.rotate_key()
    assert raised.value.status == 403 and raised.value.problem["status"] == 403
