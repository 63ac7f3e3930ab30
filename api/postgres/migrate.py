"""`strongroom db migrate`: roles, then yoyo migrations, then every file in `sql/` in one transaction.

Three steps, in this order, each idempotent:

1. `sql/bootstrap/*.sql` as the connecting user: the cluster-wide roles (CREATE ROLE cannot be part of a
   per-database migration that runs on many databases of one cluster) and the database's owner.
2. `migrations/` with yoyo, as `strongroom_owner`, under yoyo's lock: tables, columns, data.
3. `sql/*.sql` in file-name order, as `strongroom_owner`, in one transaction: the database code
   (`CREATE OR REPLACE`), recorded with its sha256 in `private.installed_code`. It runs whenever a
   migration ran or a file's hash differs from what is installed, so a second `migrate` is a no-op.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import psycopg
from psycopg import conninfo, sql
from yoyo import get_backend, read_migrations
from yoyo.exceptions import LockTimeout

from api.settings import ROOT

OWNER = "strongroom_owner"


def _shipped(name: str) -> Path:
    """`sql/` or `migrations/`: package data beside this module in an installed wheel, the checkout's
    top-level folder in a development install."""
    installed = Path(__file__).resolve().parent / name
    return installed if installed.is_dir() else ROOT / name


MIGRATIONS = _shipped("migrations")
CODE = _shipped("sql")
BOOTSTRAP = CODE / "bootstrap"
LOCK_TIMEOUT_SECONDS = 30


class MigrationError(RuntimeError):
    """Migration could not proceed; the message says what to do."""


@dataclass
class Plan:
    """What `migrate` would do (and, after it ran, did)."""

    migrations: list[str] = field(default_factory=list)
    code: list[str] = field(default_factory=list)

    @property
    def nothing(self) -> bool:
        return not self.migrations and not self.code


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def code_files() -> list[Path]:
    files = sorted(CODE.glob("*.sql"))
    if not files:
        raise MigrationError(f"no SQL files in {CODE}: this installation of Strongroom is incomplete; "
                             "reinstall it from its wheel or checkout")
    return files


def migration_ids() -> list[str]:
    """The migrations this installation ships, by id (file name without `.sql`)."""
    ids = sorted(p.name.removesuffix(".sql") for p in MIGRATIONS.glob("*.sql") if not p.name.endswith(".rollback.sql"))
    if not ids:
        raise MigrationError(f"no migrations in {MIGRATIONS}: this installation of Strongroom is incomplete; "
                             "reinstall it from its wheel or checkout")
    return ids


def _yoyo_uri(dsn: str) -> str:
    """yoyo wants a URL; every libpq parameter travels in its query string, plus the owner role."""
    params = {k: str(v) for k, v in conninfo.conninfo_to_dict(dsn).items() if v is not None}
    dbname = params.pop("dbname", "")
    params["options"] = (params.get("options", "") + f" -c role={OWNER}").strip()
    return f"postgresql+psycopg:///{dbname}?{urlencode(params)}"


def bootstrap(dsn: str) -> None:
    """Create the roles and hand the database to the owner role (step 1)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        roles = sorted(BOOTSTRAP.glob("*.sql"))
        if not roles:
            raise MigrationError(f"no bootstrap SQL in {BOOTSTRAP}: this installation of Strongroom is incomplete")
        for path in roles:
            conn.execute(path.read_text())  # type: ignore[arg-type]
        dbname = conn.info.dbname
        conn.execute(sql.SQL("alter database {} owner to {}").format(sql.Identifier(dbname), sql.Identifier(OWNER)))


def _installed_code(conn: psycopg.Connection) -> dict[str, str]:
    exists = conn.execute("select to_regclass('private.installed_code')").fetchone()
    if not exists or exists[0] is None:
        return {}
    return dict(conn.execute("select file_name, sha256 from private.installed_code").fetchall())  # type: ignore[arg-type]


def plan(dsn: str) -> Plan:
    """What would run, without changing anything (`--dry-run`)."""
    with psycopg.connect(dsn) as conn:
        installed = _installed_code(conn)
        tracked = conn.execute("select to_regclass('public._yoyo_migration')").fetchone()
        applied = (
            {row[0] for row in conn.execute("select migration_id from public._yoyo_migration")}
            if tracked and tracked[0] else set()
        )
    pending = [m for m in migration_ids() if m not in applied]
    changed = [p.name for p in code_files() if pending or installed.get(p.name) != sha256(p)]
    return Plan(migrations=pending, code=changed)


def migrate(dsn: str, master_key: str | None = None, say: Callable[[str], None] = print) -> Plan:
    """Apply what is pending; return what ran."""
    # yoyo's lock covers only the migrations; role DDL in bootstrap and the sql/ re-apply race too
    # ("tuple concurrently updated"), so one session advisory lock serialises whole migrates. It is
    # released when its connection closes, so a killed migrate never leaves it behind.
    with psycopg.connect(dsn, autocommit=True) as guard:
        guard.execute("select pg_catalog.pg_advisory_lock(pg_catalog.hashtext('strongroom.migrate'))")
        return _migrate_locked(dsn, master_key, say)


def _migrate_locked(dsn: str, master_key: str | None, say: Callable[[str], None]) -> Plan:
    bootstrap(dsn)
    backend = get_backend(_yoyo_uri(dsn))
    migrations = read_migrations(str(MIGRATIONS))
    done = Plan()
    try:
        with backend.lock(timeout=LOCK_TIMEOUT_SECONDS):
            pending = backend.to_apply(migrations)
            for migration in pending:
                say(f"applying migration {migration.id}")
            backend.apply_migrations(pending)
            done.migrations = [m.id for m in pending]
            done.code = _apply_code(dsn, force=bool(pending), master_key=master_key, say=say)
    except LockTimeout:
        raise MigrationError(
            f"another migrate holds the migration lock (table yoyo_lock) and did not release it within "
            f"{LOCK_TIMEOUT_SECONDS}s. If no other migrate is running, the lock is stale (a migrate was "
            "killed): remove it with `strongroom db migrate --break-lock`"
        ) from None
    finally:
        backend.connection.close()
    return done


def break_lock(dsn: str) -> None:
    backend = get_backend(_yoyo_uri(dsn))
    backend.break_lock()


def _apply_code(dsn: str, *, force: bool, master_key: str | None, say: Callable[[str], None]) -> list[str]:
    """Re-apply `sql/` in one transaction as the owner (step 3)."""
    files = code_files()
    with psycopg.connect(dsn, options=f"-c role={OWNER}") as conn:
        installed = _installed_code(conn)
        if not force and all(installed.get(p.name) == sha256(p) for p in files) and len(installed) == len(files):
            return []
        with conn.transaction():
            if master_key:
                # Transaction-local and a bound parameter: the key never reaches a log or a setting.
                conn.execute("select set_config('strongroom.master_key', %s, true)", [master_key])
            for path in files:
                say(f"applying sql/{path.name}")
                conn.execute(path.read_text())  # type: ignore[arg-type]
            conn.execute("delete from private.installed_code")
            for path in files:
                conn.execute(
                    "insert into private.installed_code (file_name, sha256) values (%s, %s)",
                    [path.name, sha256(path)],
                )
            if master_key and conn.execute("select to_regprocedure('private.ensure_active_key()')").fetchone()[0]:  # type: ignore[index]
                conn.execute("select private.ensure_active_key()")
    return [p.name for p in files]
