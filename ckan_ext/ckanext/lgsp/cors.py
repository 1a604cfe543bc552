"""CORS on what open data is read through: the Action API's reads, resource downloads and DCAT.

CKAN's own CORS settings cover only ``/api`` and are off by default; a page on another site (a city
dashboard, the national portal's preview) must also be able to fetch a CSV or the catalogue. The data is
public, so the answer is ``Access-Control-Allow-Origin: *`` (``ckanext.lgsp.cors_origin``) for safe methods
only, and never with credentials: cookies of the portal's users are not sent cross-site.
"""

from __future__ import annotations

import re
from typing import Any

from ckan.plugins import toolkit as tk

PUBLIC_READ = re.compile(
    r"^/(api/(3/)?action/[a-z_]+|api/(3/)?util/.*|dataset/[^/]+/resource/[^/]+/download(/.*)?"
    r"|catalog\.(ttl|rdf|jsonld|xml|n3)|dataset/[^/]+\.(ttl|rdf|jsonld|xml|n3))$")
SAFE = {"GET", "HEAD", "OPTIONS"}


def install(app: Any) -> Any:
    """Register the after-request hook on CKAN's Flask app (``IMiddleware.make_middleware``)."""
    if hasattr(app, "after_request"):
        app.after_request(add_headers)
    return app


def add_headers(response: Any) -> Any:
    from flask import request

    origin = tk.config.get("ckanext.lgsp.cors_origin", "*")
    if not origin or request.method not in SAFE or not PUBLIC_READ.match(request.path):
        return response
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = "Content-Type, Accept"
    response.headers["Access-Control-Expose-Headers"] = "Content-Length, Content-Type, ETag, Last-Modified"
    response.headers.pop("Access-Control-Allow-Credentials", None)
    if origin != "*":
        response.headers.add("Vary", "Origin")
    return response
