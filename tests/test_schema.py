"""The seed's seven tables are where the specification says, with its columns, read from the catalog."""

import psycopg
import pytest

# (column, data type, nullable, default) exactly as the specification lists them. Later migrations may
# add columns; none may change or drop one of these.
SEED = {
    "users": [
        ("id", "integer", "NO", "nextval('users_id_seq'::regclass)"),
        ("username", "text", "NO", None),
        ("hashed_password", "text", "NO", None),
        ("email", "text", "YES", None),
        ("is_active", "boolean", "YES", "true"),
        ("created_at", "timestamp without time zone", "YES", "now()"),
    ],
    "aes_keys": [
        ("id", "integer", "NO", "nextval('aes_keys_id_seq'::regclass)"),
        ("key_label", "character varying(64)", "NO", None),
        ("key_value", "text", "NO", None),
        ("is_active", "boolean", "YES", "true"),
        ("created_at", "timestamp without time zone", "YES", "now()"),
        ("rotated_at", "timestamp without time zone", "YES", None),
    ],
    "key_logs": [
        ("id", "integer", "NO", "nextval('key_logs_id_seq'::regclass)"),
        ("key_id", "integer", "YES", None),
        ("timestamp", "timestamp without time zone", "YES", "now()"),
        ("action", "character varying(50)", "NO", None),
        ("details", "text", "YES", None),
    ],
    "entries": [
        ("id", "integer", "NO", "nextval('entries_id_seq'::regclass)"),
        ("user_id", "integer", "YES", None),
        ("title", "character varying(255)", "YES", None),
        ("content", "text", "YES", None),
        ("created_at", "timestamp without time zone", "YES", "now()"),
    ],
    "orders": [
        ("id", "integer", "NO", "nextval('orders_id_seq'::regclass)"),
        ("user_id", "integer", "YES", None),
        ("description", "text", "NO", None),
        ("status", "character varying(50)", "YES", "'pending'::character varying"),
        ("created_at", "timestamp without time zone", "YES", "now()"),
    ],
    "order_logs": [
        ("id", "integer", "NO", "nextval('order_logs_id_seq'::regclass)"),
        ("order_id", "integer", "YES", None),
        ("timestamp", "timestamp without time zone", "YES", "now()"),
        ("action", "character varying(50)", "NO", None),
        ("details", "text", "YES", None),
    ],
    "logs": [
        ("id", "integer", "NO", "nextval('logs_id_seq'::regclass)"),
        ("timestamp", "timestamp without time zone", "YES", "now()"),
        ("level", "character varying(20)", "YES", "'INFO'::character varying"),
        ("component", "character varying(50)", "YES", None),
        ("message", "text", "YES", None),
        ("user_id", "integer", "YES", None),
    ],
}

# (table, column) → referenced table: the seed's foreign keys.
SEED_FOREIGN_KEYS = {
    ("key_logs", "key_id"): "aes_keys",
    ("entries", "user_id"): "users",
    ("orders", "user_id"): "users",
    ("order_logs", "order_id"): "orders",
    ("logs", "user_id"): "users",
}


def columns(db: psycopg.Connection, table: str) -> dict[str, tuple]:
    rows = db.execute(
        """
        select a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod),
               case when a.attnotnull then 'NO' else 'YES' end,
               pg_catalog.pg_get_expr(d.adbin, d.adrelid)
          from pg_catalog.pg_attribute a
          left join pg_catalog.pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
         where a.attrelid = %s::regclass and a.attnum > 0 and not a.attisdropped
        """,
        [f"public.{table}"],
    ).fetchall()
    return {name: (name, type_, nullable, default) for name, type_, nullable, default in rows}


@pytest.mark.parametrize("table", sorted(SEED))
def test_seed_table_has_every_specified_column_unchanged(db, table):
    found = columns(db, table)
    for column in SEED[table]:
        assert found.get(column[0]) == column


@pytest.mark.parametrize("table", sorted(SEED))
def test_seed_table_id_is_its_primary_key(db, table):
    keys = db.execute(
        """
        select a.attname from pg_catalog.pg_index i
          join pg_catalog.pg_attribute a on a.attrelid = i.indrelid and a.attnum = any (i.indkey)
         where i.indrelid = %s::regclass and i.indisprimary
        """,
        [f"public.{table}"],
    ).fetchall()
    assert "id" in {name for (name,) in keys}


def test_usernames_and_emails_are_unique(db):
    unique = db.execute(
        """
        select a.attname from pg_catalog.pg_constraint c
          join pg_catalog.pg_attribute a on a.attrelid = c.conrelid and a.attnum = any (c.conkey)
         where c.conrelid = 'public.users'::regclass and c.contype = 'u'
        """
    ).fetchall()
    assert {"username", "email"} <= {name for (name,) in unique}


@pytest.mark.parametrize(("table", "column"), sorted(SEED_FOREIGN_KEYS))
def test_seed_foreign_key_points_where_specified(db, table, column):
    target = db.execute(
        """
        select c.confrelid::regclass::text from pg_catalog.pg_constraint c
          join pg_catalog.pg_attribute a on a.attrelid = c.conrelid and a.attnum = any (c.conkey)
         where c.conrelid = %s::regclass and c.contype = 'f' and a.attname = %s
        """,
        [f"public.{table}", column],
    ).fetchone()
    assert target is not None and target[0].removeprefix("public.") == SEED_FOREIGN_KEYS[(table, column)]


def test_every_seed_table_is_documented_for_dbas(db):
    undocumented = db.execute(
        """
        select t from unnest(%s::text[]) t
         where pg_catalog.obj_description(('public.' || t)::regclass, 'pg_class') is null
        """,
        [sorted(SEED)],
    ).fetchall()
    assert undocumented == []


def test_pgcrypto_is_installed(db):
    assert db.execute("select public.digest('x', 'sha256') is not null").fetchone()[0] is True


def test_deleting_a_user_removes_their_entries_and_orphans_their_orders(db):
    user = db.execute(
        "insert into public.users (username, hashed_password) values ('fk-probe', 'x') returning id"
    ).fetchone()[0]
    db.execute("insert into public.entries (user_id, title) values (%s, 'note')", [user])
    order = db.execute(
        "insert into public.orders (user_id, description) values (%s, 'order') returning id", [user]
    ).fetchone()[0]

    db.execute("delete from public.users where id = %s", [user])

    assert db.execute("select count(*) from public.entries where user_id = %s", [user]).fetchone()[0] == 0
    assert db.execute("select user_id from public.orders where id = %s", [order]).fetchone() == (None,)
