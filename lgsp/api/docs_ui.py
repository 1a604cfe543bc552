"""``/docs``: Swagger UI for the served OpenAPI, from assets on this machine (no CDN).

The assets come from the npm package ``swagger-ui-dist`` at a pinned version, checked against its
registry integrity hash by ``scripts/docs/fetch-swagger-ui.sh`` into ``var/swagger-ui`` (or the folder in
``LGSP_DOCS_ASSETS``). Without them ``/docs`` says how to get them instead of loading anything remote.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from lgsp.problems import Problem

ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png")
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "var" / "swagger-ui"


def assets_dir() -> Path:
    return Path(os.environ.get("LGSP_DOCS_ASSETS") or DEFAULT_DIR)


def install(app: FastAPI) -> None:
    router = APIRouter(include_in_schema=False)

    @router.get("/docs")
    async def docs() -> HTMLResponse:
        if not (assets_dir() / ASSETS[0]).is_file():
            raise Problem("not-configured", "the Swagger UI assets are not installed on this gateway: run "
                                            "scripts/docs/fetch-swagger-ui.sh (the spec is at /openapi.json)")
        return get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} API",
                                   swagger_js_url="/docs/assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs/assets/swagger-ui.css",
                                   swagger_favicon_url="/docs/assets/favicon-32x32.png")

    @router.get("/docs/assets/{name}")
    async def asset(name: str) -> FileResponse:
        path = assets_dir() / name
        if name not in ASSETS or not path.is_file():
            raise Problem("not-found", f"no asset {name!r}")
        return FileResponse(path)

    app.include_router(router)
