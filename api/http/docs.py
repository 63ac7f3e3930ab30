"""`/docs` (Swagger UI, with the lock on protected routes) and the OpenAPI document with the Problem schema.

Secure networks are often offline: every asset of the page (Swagger UI's script, stylesheet and icon) is
served by this server from the copy the `fastapi-offline` package ships, at `/docs/assets/<file>`, and the
page's content security policy allows only 'self' plus Swagger UI's one inline script, by its hash.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI, HTTPException
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, HTMLResponse

from api.http import errors
from api.http.edge import docs_csp


def _inline_script(html: HTMLResponse) -> str:
    found = re.findall(r"<script>(.*?)</script>", bytes(html.body).decode(), flags=re.S)
    return found[0] if found else ""


ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"
ASSETS_ROUTE = "/docs/assets/{name}"
# The only files served from ASSETS_DIR, with their media types.
ASSETS = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css", "favicon.png": "image/png"}


def install(app: FastAPI) -> dict[str, str]:
    """Add the docs pages and the OpenAPI builder to `app`; return each page's content security policy."""
    swagger = get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} API",
                                  oauth2_redirect_url="/docs/oauth2-redirect",
                                  swagger_js_url="/docs/assets/swagger-ui-bundle.js",
                                  swagger_css_url="/docs/assets/swagger-ui.css",
                                  swagger_favicon_url="/docs/assets/favicon.png",
                                  swagger_ui_parameters={"persistAuthorization": False})
    redirect = get_swagger_ui_oauth2_redirect_html()

    @app.get(ASSETS_ROUTE, include_in_schema=False)
    async def docs_asset(name: str) -> FileResponse:
        if name not in ASSETS:
            raise HTTPException(status_code=404)
        return FileResponse(ASSETS_DIR / name, media_type=ASSETS[name],
                            headers={"cache-control": "public, max-age=86400"})

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
