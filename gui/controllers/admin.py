"""The Admin tab, there for admins only: keys (rotate, re-encrypt with a progress bar, retire) and users
(lock, unlock, disable, role)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from api.reencryption import Plan, Step
from gui.controllers import Controller
from gui.views.admin import AdminView

if TYPE_CHECKING:
    from gui.app import Application


class AdminController(Controller):
    refresh_event = "<<RefreshAdmin>>"

    def __init__(self, app: Application) -> None:
        super().__init__(app, None)
        self.view: AdminView | None = None  # there only while an admin is logged in

    def began(self, me: dict[str, Any], previous: str | None) -> None:
        self.show(me.get("role") == "admin")

    def show(self, admin: bool) -> None:
        """The tab is added for an admin and removed for anyone else."""
        notebook = self.app.notebook
        if admin and self.view is None:
            a = self.view = AdminView(notebook)
            notebook.add(a, text="Admin", underline=0)
            a.bind("<<RefreshAdmin>>", lambda _e: self.load_admin())
            a.bind("<<RotateKey>>", lambda _e: self.rotate_key())
            a.bind("<<Reencrypt>>", lambda _e: self.reencrypt())
            a.bind("<<RetireKey>>", lambda _e: self.retire_key())
            a.bind("<<UserAction>>", lambda _e: self.user_action())
            a.bind("<<SetRole>>", lambda _e: self.set_role())
        elif not admin and self.view is not None:
            notebook.forget(self.view)
            self.view.destroy()
            self.view = None

    def shown(self) -> None:
        self.load_admin()

    def load_admin(self) -> None:
        admin = self.view
        if admin is None:
            return
        self.run("list keys", self.client.list_keys, done=admin.show_keys, message=admin.message,
                 retry=self.load_admin)
        self.run("list users", self.client.list_users, done=admin.show_users, message=admin.message)

    def rotate_key(self) -> None:
        admin = self.view
        if admin is None:
            return
        admin.rotate.set_busy(True)

        def rotated(key: Any) -> None:
            new = f" #{key['new_key_id']}" if isinstance(key, dict) and key.get("new_key_id") else ""
            admin.message.say(f"Rotated: new active key{new}. Re-encrypt to move old rows to it.")
            self.requests.client_event("INFO", "key rotated")
            self.load_admin()

        self.run("rotate key", self.client.rotate_key, done=rotated, message=admin.message,
                 always=lambda: admin.rotate.set_busy(False))

    def reencrypt(self) -> None:
        """One batch per request, as api/reencryption.py's Plan says, moving the progress bar after each."""
        admin = self.view
        if admin is None or admin.reencrypt.is_busy:
            return
        admin.reencrypt.set_busy(True)
        plan = Plan()

        def submit() -> None:
            step = plan.next()
            if step is None:
                admin.reencrypt.set_busy(False)
                admin.message.say("Re-encryption finished: every row uses the active key.")
                self.requests.client_event("INFO", "re-encryption finished")
                self.load_admin()
                return
            self.run("re-encrypt", self.client.reencrypt_step, step, done=lambda answer: progressed(step, answer),
                     message=admin.message, retry=self.reencrypt, refused=lambda: admin.reencrypt.set_busy(False))

        def progressed(step: Step, answer: tuple[int, int | None]) -> None:
            progress = plan.record(step, *answer)
            if progress.total is not None:
                admin.show_progress(progress.moved, progress.total, progress.rows_left or 0)
            if admin.winfo_exists():
                submit()

        submit()

    def retire_key(self) -> None:
        admin = self.view
        key = admin.selected_key() if admin else None
        if admin is None or key is None:
            return
        self.run("retire key", self.client.retire_key, key,
                 done=lambda _r: (admin.message.say(f"Key #{key} retired."), self.load_admin()),
                 message=admin.message)

    def user_action(self) -> None:
        admin = self.view
        user = admin.selected_user() if admin else None
        if admin is None or user is None:
            if admin is not None:
                admin.message.say("Select a user first.", error=True)
            return
        action = admin.user_action
        self.run(f"{action} user", self.client.user_action, user, action,
                 done=lambda _r: (admin.message.say(f"User #{user}: {action} done."), self.load_admin()),
                 message=admin.message)

    def set_role(self) -> None:
        admin = self.view
        user = admin.selected_user() if admin else None
        if admin is None or user is None:
            return
        role = admin.role.get()
        self.run("set role", self.client.set_user_role, user, role,
                 done=lambda _r: (admin.message.say(f"User #{user} is now {role}."), self.load_admin()),
                 message=admin.message)
