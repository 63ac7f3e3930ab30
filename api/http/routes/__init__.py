"""One module per resource; each route validates, makes one SQL call and maps the answer."""

from fastapi import APIRouter

from api.http.routes import auth, entries, keys, logs, orders, passwords, users

ROUTERS: list[APIRouter] = [auth.router, orders.router, entries.router, passwords.router, logs.router, keys.router,
                            users.router]
