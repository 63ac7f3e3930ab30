"""How a request's transaction behaves: read-only for reads, retried after a deadlock, committed before the
answer (a COMMIT that fails is an error, never a success), and bounded by the statement timeout."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from api.http.calls import Db, RequestInfo
from api.http.pool import make_pool
from api.settings import Settings
from tests.api.conftest import PASSWORD


async def with_db(settings: Settings, body: Callable[[Db], Any]) -> Any:
    pool: AsyncConnectionPool = make_pool(settings)
    await pool.open()
    try:
        return await body(Db(pool, settings, None, RequestInfo("req-transactions", None)))
    finally:
        await pool.close()


def test_reads_run_in_read_only_transactions_and_writes_do_not(api_settings: Settings) -> None:
    async def body(db: Db) -> tuple[Any, Any]:
        read = await db.call_one("pg_catalog.current_setting", "transaction_read_only", read_only=True)
        write = await db.call_one("pg_catalog.current_setting", "transaction_read_only", read_only=False)
        return read["current_setting"], write["current_setting"]

    assert asyncio.run(with_db(api_settings, body)) == ("on", "off")


def test_a_deadlocked_transaction_is_retried_and_both_complete(api_settings: Settings) -> None:
    attempts: list[str] = []

    def locking(first: int, second: int, name: str) -> Callable[[AsyncConnection[Any]], Any]:
        async def work(conn: AsyncConnection[Any]) -> str:
            attempts.append(name)
            await (await conn.execute("select pg_advisory_xact_lock(%s)", [first])).fetchone()
            await asyncio.sleep(0.2)  # both hold their first lock before either asks for its second
            await (await conn.execute("select pg_advisory_xact_lock(%s)", [second])).fetchone()
            return name
        return work

    async def body(db: Db) -> list[str]:
        return list(await asyncio.gather(db.transaction(locking(1, 2, "a"), read_only=False, crypto=False),
                                         db.transaction(locking(2, 1, "b"), read_only=False, crypto=False)))

    assert asyncio.run(with_db(api_settings, body)) == ["a", "b"]
    assert sorted(attempts) in (["a", "a", "b"], ["a", "b", "b"])  # the deadlock's victim ran twice


def test_the_request_id_reaches_the_transaction(api_settings: Settings) -> None:
    async def body(db: Db) -> Any:
        async def work(conn: Any) -> Any:
            cur = await conn.execute("select request_id from private.current_context")
            return (await cur.fetchone())[0]
        return await db.transaction(work, read_only=True, crypto=False)

    assert asyncio.run(with_db(api_settings, body)) == "req-transactions"


def test_a_commit_that_fails_reaches_the_client_as_an_error(client: TestClient, db: psycopg.Connection) -> None:
    db.execute("""
        create function public.refuse_at_commit() returns trigger language plpgsql as $$
        begin raise exception 'refused at commit'; end $$;
        create constraint trigger refuse_at_commit after insert on public.users
            deferrable initially deferred for each row execute function public.refuse_at_commit();
    """)

    response = client.post("/register", json={"username": "alice", "password": PASSWORD})

    assert response.status_code >= 500 and response.headers["content-type"] == "application/problem+json"
    assert "refused at commit" not in response.text
    assert db.execute("select count(*) from public.users").fetchone() == (0,)


def test_a_commit_that_fails_after_a_callers_one_statement_call_is_an_error_and_keeps_nothing(
        client: TestClient, user: Callable[[str], dict[str, str]], db: psycopg.Connection) -> None:
    # A caller's call is one statement in autocommit: its rows are sent before the commit runs.
    headers = user("alice")
    db.execute("""
        create function public.refuse_at_commit() returns trigger language plpgsql as $$
        begin raise exception 'refused at commit'; end $$;
        create constraint trigger refuse_at_commit after insert on public.orders
            deferrable initially deferred for each row execute function public.refuse_at_commit();
    """)

    response = client.post("/orders", json={"description": "lost at commit"}, headers=headers)

    assert response.status_code >= 500 and response.headers["content-type"] == "application/problem+json"
    assert "refused at commit" not in response.text
    assert db.execute("select count(*) from public.orders").fetchone() == (0,)


def test_a_callers_call_that_meets_a_serialization_failure_is_retried(
        client: TestClient, user: Callable[[str], dict[str, str]], db: psycopg.Connection) -> None:
    headers = user("alice")
    # The first attempt fails as a serialization failure would; a sequence is not rolled back with it.
    db.execute("""
        create sequence public.attempts;
        create function public.fail_once() returns trigger language plpgsql security definer
        set search_path = '' as $$
        begin
            if pg_catalog.nextval('public.attempts') = 1 then
                raise exception 'could not serialize' using errcode = '40001';
            end if;
            return new;
        end $$;
        create trigger fail_once before insert on public.orders for each row execute function public.fail_once();
    """)

    response = client.post("/orders", json={"description": "second time lucky"}, headers=headers)

    assert response.status_code == 201
    assert db.execute("select count(*) from public.orders").fetchone() == (1,)
    assert db.execute("select last_value from public.attempts").fetchone() == (2,)


def test_a_statement_over_its_timeout_is_503_with_retry_after(make_client: Callable[..., TestClient],
                                                              connect: Callable) -> None:
    client = make_client(statement_timeout_ms=300)
    blocker = connect()
    blocker.execute("lock table public.users in access exclusive mode")

    response = client.post("/register", json={"username": "alice", "password": PASSWORD})
    blocker.rollback()

    assert response.status_code == 503 and int(response.headers["retry-after"]) >= 1
