"""`/docs` (Swagger UI, with the lock on protected routes) and the OpenAPI document with the Problem schema.

Swagger UI's one inline script is allowed by its hash in the page's content security policy.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse

from api.http import errors
from api.http.edge import docs_csp


def _inline_script(html: HTMLResponse) -> str:
    found = re.findall(r"<script>(.*?)</script>", bytes(html.body).decode(), flags=re.S)
    return found[0] if found else ""


def install(app: FastAPI) -> dict[str, str]:
    """Add the docs pages and the OpenAPI builder to `app`; return each page's content security policy."""
    swagger = get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} API",
                                  oauth2_redirect_url="/docs/oauth2-redirect",
                                  swagger_ui_parameters={"persistAuthorization": False})
    redirect = get_swagger_ui_oauth2_redirect_html()

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return swagger

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def docs_redirect() -> HTMLResponse:
        return redirect

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = errors.problem_schema()
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    return {"/docs": docs_csp(_inline_script(swagger)), "/docs/oauth2-redirect": docs_csp(_inline_script(redirect))}
