"""`strongroom admin ...`: user administration for DBAs, with the same SQL functions the API uses.

There is no built-in administrator: the first one is made here. These commands connect as the database's
administrative user (the embedded superuser, or DATABASE_URL's user), which row-level security does not
restrict, and call the `private` helpers of `sql/20_auth.sql`; every action is written to `public.logs`.
"""

from __future__ import annotations

import argparse

import psycopg
from psycopg import sql

from api.cli.commands import admin_connection, command_group, new_secret
from api.cli.errors import CommandFailed
from api.rules import PASSWORD_MAX, PASSWORD_MIN, ROLES
from api.settings import Settings, get_settings

PASSWORD_ENV = "STRONGROOM_ADMIN_PASSWORD"  # noqa: S105 - the variable's name, not a password


def register(subparsers: argparse._SubParsersAction) -> None:
    add = command_group(subparsers, "admin", "create administrators and manage users", __doc__)
    create = add(
        "create", create_admin, "create an administrator (the first one, or another)",
        f"Create a user with the admin role. The password is read from ${PASSWORD_ENV} when it is set "
        f"(scripts), else asked twice on the terminal. The password policy applies: {PASSWORD_MIN} to "
        f"{PASSWORD_MAX} characters, not a common password, not containing the username.")
    create.add_argument("username")
    create.add_argument("--email", help="optional email address")

    add("list", list_users, "list every account with its role and state")

    for name, function, done, text in (
        ("unlock", "unlock_user", "unlocked", "end a lockout and reset the failure counters"),
        ("disable", "disable_user", "disabled", "disable an account and revoke its tokens"),
        ("enable", "enable_user", "enabled", "enable a disabled account"),
    ):
        command = add(name, simple_action, text)
        command.add_argument("username")
        command.set_defaults(function=function, done=done)

    set_role = add("set-role", change_role, "give an account the role user, admin or auditor",
                   "Change an account's role (revokes its tokens). The last active administrator keeps theirs.")
    set_role.add_argument("username")
    set_role.add_argument("role", choices=ROLES)


def _user_id(conn: psycopg.Connection, username: str) -> int:
    row = conn.execute("select id from public.users where lower(username) = lower(%s)", [username]).fetchone()
    if row is None:
        raise CommandFailed(f"no user named {username}")
    return int(row[0])


def create_admin(args: argparse.Namespace) -> None:
    settings = get_settings()
    settings.secret("STRONGROOM_PEPPER")  # a missing pepper stops here, before a password is asked for
    password = new_secret(PASSWORD_ENV, "Password for the new administrator", "password")
    user_id = create_administrator(settings, args.username, password, args.email)
    print(f"created administrator {args.username} (id {user_id})")


def create_administrator(settings: Settings, username: str, password: str, email: str | None = None) -> int:
    """Make an administrator through the real registration function (password policy included); its id."""
    pepper = settings.secret("STRONGROOM_PEPPER")
    with admin_connection(settings=settings) as conn:
        row = conn.execute("select private.create_user(%s, %s, %s, %s, 'admin')",
                           [username, password, pepper, email]).fetchone()
    assert row is not None
    return int(row[0])


def list_users(_: argparse.Namespace) -> int:
    with admin_connection() as conn:
        rows = conn.execute(
            "select u.id, u.username, u.role, case when u.is_active is not true then 'disabled' "
            "when u.failures_since_login >= s.lockout_hard_limit then 'locked until unlocked' "
            "when u.locked_until > now() then 'locked until ' || u.locked_until::text else 'active' end "
            "from public.users u cross join private.auth_settings s order by u.id").fetchall()
    print(f"{'id':>6}  {'username':<24} {'role':<8} state")
    for user_id, username, role, state in rows:
        print(f"{user_id:>6}  {username:<24} {role:<8} {state}")
    return 0


def simple_action(args: argparse.Namespace) -> None:
    with admin_connection() as conn:
        user_id = _user_id(conn, args.username)
        call = sql.SQL("select {}(%s)").format(sql.Identifier("private", args.function))
        conn.execute(call, [user_id])
    print(f"{args.done} {args.username}")


def change_role(args: argparse.Namespace) -> None:
    with admin_connection() as conn:
        user_id = _user_id(conn, args.username)
        conn.execute("select private.set_user_role(%s, %s)", [user_id, args.role])
    print(f"{args.username} is now {args.role}")
