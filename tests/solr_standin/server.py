"""TEST DOUBLE: the Solr stand-in's HTTP front (stdlib only, so it runs under CKAN's venv or lgsp's).

Routes, for any core name under ``/solr/<core>/``: ``select``, ``update`` (and ``update/json``),
``admin/ping``, ``schema`` (``?wt=schema.xml``, for CKAN's schema-version check), ``admin/file``.
Errors use Solr's JSON error shape so pysolr reports them as Solr would.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .core import SolrCore, SolrError

SCHEMA_XML = (Path(__file__).parent / "schema.xml").read_bytes()


class SolrStandIn:
    """All cores of one stand-in process, created on first use (like a permissive SolrCloud)."""

    def __init__(self) -> None:
        self.cores: dict[str, SolrCore] = {}
        self._lock = threading.Lock()

    def core(self, name: str) -> SolrCore:
        with self._lock:
            return self.cores.setdefault(name, SolrCore(name))


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: CKAN polls a lot
        pass

    def do_GET(self) -> None:
        self._dispatch(b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._dispatch(self.rfile.read(length) if length else b"")

    def _dispatch(self, body: bytes) -> None:
        url = urlsplit(self.path)
        params = parse_qs(url.query, keep_blank_values=True)
        content_type = self.headers.get("Content-Type", "")
        if body and "x-www-form-urlencoded" in content_type:
            params.update(parse_qs(body.decode("utf-8"), keep_blank_values=True))
            body = b""
        parts = [p for p in url.path.split("/") if p]
        if parts[:1] != ["solr"] or len(parts) < 3:
            self._json(404, {"error": {"msg": f"no such path {url.path}", "code": 404}})
            return
        core, handler = self.server.standin.core(parts[1]), "/".join(parts[2:])
        try:
            if handler == "select":
                self._json(200, core.select(params))
            elif handler in {"update", "update/json"}:
                core.update(body, content_type, params)
                self._json(200, {"responseHeader": {"status": 0, "QTime": 0}})
            elif handler == "admin/ping":
                self._json(200, {"responseHeader": {"status": 0}, "status": "OK"})
            elif handler in {"schema", "admin/file"}:
                self._send(200, SCHEMA_XML, "application/xml; charset=utf-8")
            else:
                self._json(404, {"error": {"msg": f"unknown handler {handler}", "code": 404}})
        except SolrError as exc:
            self._json(exc.status, {"responseHeader": {"status": exc.status},
                                    "error": {"msg": str(exc), "code": exc.status}})
        except (ValueError, KeyError) as exc:
            self._json(400, {"responseHeader": {"status": 400}, "error": {"msg": repr(exc), "code": 400}})

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json; charset=utf-8")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    standin: SolrStandIn


def make_server(host: str = "127.0.0.1", port: int = 0) -> _Server:
    """A ready-to-serve stand-in; ``server.server_address[1]`` is the port (0 picks a free one)."""
    server = _Server((host, port), _Handler)
    server.standin = SolrStandIn()
    return server
