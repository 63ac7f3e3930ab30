"""One module per resource; each route validates, makes one SQL call and maps the answer."""

from fastapi import APIRouter

from api.routes import auth

ROUTERS: list[APIRouter] = [auth.router]
