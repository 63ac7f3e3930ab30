"""A failed login for a name nobody has: recognisable by a keyed hash of the name, never by the name."""

from __future__ import annotations

PEPPER = "a pepper only the API knows, 32+ chars"


def fail(db, name: str) -> dict:
    db.execute("select status from private.authenticate(%s, 'my password typed as a name?', %s)", [name, PEPPER])
    return db.execute("select details from public.logs where action = 'login_failed' order by id desc limit 1"
                      ).fetchone()[0]


def test_attempts_at_one_unknown_name_share_a_keyed_hash_and_the_name_is_nowhere(db):
    first, again, other = fail(db, "Mallory.Probe"), fail(db, "mallory.probe"), fail(db, "someone-else")
    expected = db.execute("select private.attempted_name_hash('mallory.probe', %s)", [PEPPER]).fetchone()[0]
    unkeyed = db.execute("select left(encode(sha256('mallory.probe'), 'hex'), 32)").fetchone()[0]
    logs = db.execute("select string_agg(l::text, ' ') from public.logs l").fetchone()[0].lower()

    assert first["attempted_name_hash"] == again["attempted_name_hash"] == expected
    assert other["attempted_name_hash"] != expected and expected != unkeyed
    assert "mallory" not in logs and "someone-else" not in logs
