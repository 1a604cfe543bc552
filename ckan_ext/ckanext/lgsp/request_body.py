"""A JSON body nested too deeply for Python's parser is a 400 from the Action API, not a 500.

Why: CKAN's API view decodes the body with Flask's ``request.get_json()`` (or ``json.loads`` of a form key)
and turns a decoding error into a 400 -- but only a ``ValueError``: ``[[[[...]]]]`` a few thousand levels deep
raises ``RecursionError`` inside the decoder, which went up as a 500 with a traceback in the log. Fuzzing
found it with 5,000 brackets (a 10 kB request). This hook decodes such bodies first, in the same way, and
answers CKAN's own bad-request JSON when the decoder gives up.
"""

from __future__ import annotations

import json
from typing import Any

MESSAGE = "Error decoding JSON data: nested too deeply"


def install(app: Any) -> Any:
    """Register the before-request hook on CKAN's Flask app (``IMiddleware.make_middleware``)."""
    if hasattr(app, "before_request"):
        app.before_request(refuse_too_deep)
    return app


def refuse_too_deep() -> Any:
    from flask import jsonify, request

    if request.method not in ("POST", "PUT") or not request.path.startswith("/api/"):
        return None
    try:
        if request.form:
            values = list(request.form.values())
            if len(values) == 1 and values[0] in ("1", ""):
                _decode(next(iter(request.form.keys())))
        elif request.content_type != "multipart/form-data" and request.get_data(cache=True):
            _decode(request.get_data(cache=True))
    except RecursionError:
        answer = jsonify({"help": request.url, "success": False,
                          "error": {"__type": "Bad request", "message": MESSAGE}})
        answer.status_code = 400
        return answer
    return None


def _decode(body: Any) -> None:
    try:
        json.loads(body)
    except ValueError:
        pass  # not JSON at all: CKAN's own view answers that (400)
