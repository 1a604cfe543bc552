"""A provider that records exactly what reached it (the raw request path) and can answer with XML."""

from __future__ import annotations

import gzip
import json
import zlib
from typing import Any

DOCTYPE_REPLY = (b'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
                 b"<r>&xxe;</r>")
PLAIN_XML_REPLY = b'<?xml version="1.0"?>\n<r>ok</r>'


class RecordingProvider:
    """A raw ASGI app: `/xml/doctype` and `/xml/plain` answer XML, every other path echoes its raw form."""

    def __init__(self) -> None:
        self.raw_paths: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        raw = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        self.raw_paths.append(raw)
        size = 0
        more = True
        while more:
            message = await receive()
            size += len(message.get("body", b""))
            more = message.get("more_body", False)
        extra: list[tuple[bytes, bytes]] = []
        if "/xml/encoded/" in raw:  # /xml/encoded/{gzip,deflate,br}/{doctype,plain}: a compressed XML reply
            coding = raw.split("/xml/encoded/")[1].split("/")[0]
            plain = DOCTYPE_REPLY if raw.endswith("/doctype") else PLAIN_XML_REPLY
            body = gzip.compress(plain) if coding == "gzip" else zlib.compress(plain) if coding == "deflate" else plain
            content_type, extra = b"application/xml", [(b"content-encoding", coding.encode())]
        elif "/xml/doctype" in raw:
            body, content_type = DOCTYPE_REPLY, b"application/xml"
        elif "/xml/plain" in raw:
            body, content_type = PLAIN_XML_REPLY, b"text/xml; charset=utf-8"
        else:
            body, content_type = json.dumps({"raw_path": raw, "received": size}).encode(), b"application/json"
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode()),
                                *extra]})
        await send({"type": "http.response.body", "body": body})
