"""`make screenshots`: the desktop client against a demo database, one PNG per screen, under Xvfb.

Everything is real and throwaway: an embedded PostgreSQL in a temporary directory, migrated; the API served
by uvicorn with fresh random secrets; demo data entered through the API; the window driven by the same robot
as the tests. Nothing touches the project's own database or secrets.

    python -m tests.gui.screenshots docs/screenshots
"""

from __future__ import annotations

import base64
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from api.postgres.embedded import EmbeddedServer, default_bindir
from api.postgres.migrate import migrate
from tests.gui.harness import PASSWORD, RealApi, Robot, free_port, virtual_display


def _secret() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def seed(api: RealApi, promote: Callable[[str], None]) -> None:
    """A morning's work: two operators, an admin, orders (some encrypted), notes, saved logins, a rotation."""
    for name in ("ana", "bruno", "root"):
        api.register(name)
    promote("root")
    ana, bruno, root = (api.tokens(n) for n in ("ana", "bruno", "root"))

    def call(method: str, path: str, tokens: dict[str, Any], **body: Any) -> None:
        response = api.call(method, path, tokens, json=body)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")

    orders = [("Ten boxes of M6 bolts for line 3", False), ("Replacement badge for the night guard", True),
              ("Forklift battery, 48 V", False), ("Payroll export for November", True),
              ("Two pallets of A4 paper", False)]
    for description, sensitive in orders:
        call("POST", "/orders", ana, **{"description": description, "sensitive": sensitive})
    call("POST", "/orders", bruno, **{"description": "Safety gloves, size L", "sensitive": False})
    call("PATCH", "/orders/1", ana, **{"status": "cancelled"})
    call("POST", "/entries", root, **{"title": "Door codes", "content": "Back door: ask the night guard."})
    call("POST", "/entries", root, **{"title": "Supplier contacts", "content": "Bolts: Ms Weber, ext. 214"})
    call("POST", "/passwords", root, **{"website": "mail.example.org", "username": "root@example.org",
                                               "password": "vK7#pQ2!mZ9@wL4$"})
    call("POST", "/logs", ana, **{"level": "WARNING", "component": "scanner", "message": "paper jam"})
    call("POST", "/aes/rotate", root)


def grab(app: Any, robot: Robot, path: Path) -> None:
    """A PNG of the window (and whatever dialog is over it)."""
    from PIL import ImageGrab

    robot.settle()
    app.update_idletasks()
    # Without a window manager the window sits at the screen's corner with its menu bar above it.
    box = (0, 0, app.winfo_rootx() + app.winfo_width(), app.winfo_rooty() + app.winfo_height())
    ImageGrab.grab(bbox=box, xdisplay=os.environ["DISPLAY"]).save(path)
    print(f"wrote {path}")


def shoot(api: RealApi, out: Path) -> None:
    from gui.app import Application

    app = Application(api.url)
    robot = Robot(app)
    robot.wait(lambda: app.login_dialog.shown, "the login dialog")
    robot.type(app.login_dialog.username, "root")
    robot.type(app.login_dialog.password.entry, PASSWORD)
    grab(app, robot, out / "login.png")
    robot.key("Return")
    robot.wait(lambda: app.me.get("username") == "root" and app.orders.table.rows(), "the orders")
    robot.type(app.orders.description, "Twenty spools of cable, 2.5 mm")
    robot.click(app.orders.encrypt_box)
    grab(app, robot, out / "orders.png")
    tree = app.orders.table.tree
    robot.double_click(tree, at=robot.cell(tree, tree.get_children()[-1], "description"))
    robot.wait(lambda: app.order_dialog is not None and app.order_dialog.history.rows(), "the order dialog")
    grab(app, robot, out / "order.png")
    robot.key("Escape")
    for key, name, ready in (
            ("ctrl+2", "notes", lambda: app.entries.table.rows()),
            ("ctrl+3", "passwords", lambda: app.passwords.table.rows()),
            ("ctrl+4", "logs", lambda: app.logs.table.rows()),
            ("ctrl+5", "admin", lambda: app.admin is not None and app.admin.users.rows())):
        robot.key(key)
        robot.wait(ready, f"the {name} tab")
        if name == "notes":
            tree = app.entries.table.tree
            robot.click(tree, at=robot.cell(tree, tree.get_children()[0], "title"))
            robot.wait(lambda: app.entries.entry_id is not None, "the note to open")
        if name == "passwords":
            robot.click(app.passwords.generate)
            robot.wait(lambda: app.passwords.password.get_value(), "a generated password")
        if name == "admin":
            assert app.admin is not None
            robot.click(app.admin.reencrypt)
            robot.wait(lambda: not app.admin.reencrypt.is_busy, "re-encryption")  # type: ignore[union-attr]
        robot.wait(lambda: app.worker.busy == 0, "the requests to land")
        grab(app, robot, out / f"{name}.png")
    app.quit_app()
    app.worker.close(wait=True)


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "docs/screenshots")
    out.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="strongroom-demo-"))
    master_key = _secret()
    server = EmbeddedServer(home=home, port=free_port(), bindir=default_bindir(),
                            run_as=os.environ.get("STRONGROOM_PG_USER", "strongroom"), database="strongroom_demo")
    server.start()
    api: RealApi | None = None
    try:
        migrate(server.dsn(), master_key=master_key, say=lambda _: None)
        env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")}
        env.update(STRONGROOM_MASTER_KEY=master_key, STRONGROOM_JWT_SECRET=_secret(), STRONGROOM_PEPPER=_secret(),
                   DATABASE_URL=server.dsn(), STRONGROOM_API_DATABASE_URL=server.dsn(user="strongroom_authenticator"),
                   STRONGROOM_HOME=str(home))
        api = RealApi(env).start()

        def promote(username: str) -> None:
            with psycopg.connect(server.dsn(), autocommit=True) as conn:
                conn.execute("update public.users set role = 'admin' where username = %s", [username])

        seed(api, promote)
        with virtual_display("1100x760x24"):
            shoot(api, out)
    finally:
        if api is not None:
            api.stop()
        server.remove()
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
