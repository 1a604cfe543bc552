"""What every console page shares: templates (autoescaped), the signed-in person, CSRF, and auditing.

Every change made through the console is written to the audit log like a gateway exchange, with the
person's username as `user_id` and `console:<username>` as the client, so auditors see who did what.
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.types import Message

from lgsp.console import i18n, sessions
from lgsp.console.accounts import Person
from lgsp.console.redact import url_without_credentials
from lgsp.console.roles import ROLE_NAMES, allowed
from lgsp.runtime import Runtime

HERE = Path(__file__).parent
TEMPLATES = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]),
                        trim_blocks=True, lstrip_blocks=True)
TEMPLATES.filters["without_credentials"] = url_without_credentials
LOGIN_CSRF_COOKIE = "lgsp_login_csrf"
NUL_MESSAGE = "the input holds a NUL character (U+0000), which no field may contain"


class ConsoleError(Exception):
    """Rendered as an HTML error page with this status (404 for unknown ids, 403 for a missing right)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class NeedsLogin(Exception):
    pass


@dataclass(frozen=True)
class Viewer:
    person: Person
    csrf_token: str

    def can(self, permission: str) -> bool:
        return allowed(self.person.role, permission)


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def lang_of(request: Request) -> str:
    chosen = request.query_params.get("lang") or request.cookies.get("lgsp_lang") or "vi"
    return chosen if chosen in i18n.LANGS else "vi"


def viewer(request: Request) -> Viewer:
    """The signed-in person, or NeedsLogin (rendered as a redirect to the login page)."""
    runtime = runtime_of(request)
    found = sessions.find(runtime.engine, request.cookies.get(sessions.COOKIE), runtime.settings.console_idle_seconds,
                          max_seconds=runtime.settings.console_session_max_seconds)
    if found is None:
        raise NeedsLogin()
    return Viewer(found.person, found.csrf_token)


def require(view: Viewer, permission: str) -> None:
    if not view.can(permission):
        raise ConsoleError(403, f"role {view.person.role} may not do this ({permission})")


def same_origin(request: Request) -> bool:
    """Browsers send Origin on POST; when present it must be this console's own origin."""
    origin = request.headers.get("origin")
    if not origin:
        return True
    host = request.headers.get("host", "")
    return urlsplit(origin).netloc == host


def has_nul(*texts: str | tuple[str, str]) -> bool:
    """Whether any of the texts (or name/value pairs) holds U+0000: PostgreSQL refuses it in text, so a
    login name, search filter or id with one was a 500 there (a DataError) instead of an answer."""
    return any("\x00" in (text if isinstance(text, str) else text[0] + text[1]) for text in texts)


#: A login form is a few hundred bytes; before anyone is signed in, nothing bigger is read (the form parser
#: held any number of 1 MiB fields in memory, and spooled any number of unbounded files to disk).
MAX_LOGIN_FORM = 64 * 1024
#: The registry editor's 2 MiB of YAML, percent-encoded by the browser (up to three bytes for each).
MAX_FORM = 3 * 2 * 1024 * 1024 + 64 * 1024


def _bound_body(request: Request, limit: int) -> None:
    """Refuse (413) a body over ``limit`` bytes: at once by its Content-Length, else as its bytes arrive
    (chunked), while the form parser reads it; nothing is buffered twice (a signature upload is large)."""
    too_large = ConsoleError(413, f"the form is larger than {limit // 1024} KiB")
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise too_large
    receive, seen = request._receive, 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        seen += len(message.get("body", b""))
        if seen > limit:
            raise too_large
        return message

    request._receive = counted  # what request.form() reads through (Starlette keeps no public hook)


async def form_of(request: Request, view: Viewer | None = None, limit: int = MAX_FORM) -> dict[str, Any]:
    """The posted form (at most ``limit`` bytes; :data:`MAX_LOGIN_FORM` without a session), after the CSRF
    token (session's, or the login cookie's) and Origin checks."""
    limit = limit if view is not None else MAX_LOGIN_FORM
    _bound_body(request, limit)
    form = await request.form(max_part_size=limit)  # one field may be all of it (the registry editor)
    token = str(form.get("csrf", ""))
    expected = view.csrf_token if view is not None else request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not same_origin(request) or not expected or not hmac.compare_digest(token, expected):
        raise ConsoleError(403, "the form's security token is missing or stale: reload the page and try again")
    if has_nul(*((k, v) for k, v in form.multi_items() if isinstance(v, str))):
        raise ConsoleError(422, NUL_MESSAGE)
    return {k: v for k, v in form.multi_items()}


def render(request: Request, template: str, view: Viewer | None, status: int = 200, **context: Any) -> HTMLResponse:
    lang = lang_of(request)
    page = TEMPLATES.get_template(template).render(
        t=lambda key: i18n.label(key, lang), lang=lang, view=view, root=request.scope.get("root_path", ""),
        role_name=lambda role: ROLE_NAMES.get(role, (role, role))[0 if lang == "vi" else 1], **context)
    response = HTMLResponse(page, status_code=status)
    if request.query_params.get("lang") in i18n.LANGS:
        response.set_cookie("lgsp_lang", lang, max_age=365 * 86400, samesite="lax", httponly=True)
    return response


def new_login_csrf() -> str:
    return secrets.token_urlsafe(32)


async def audit_action(request: Request, person: Person | None, action: str, target: str, status: int,
                       username: str | None = None) -> int:
    """One audit entry per console action (also refused ones): who, what, on what, with what outcome."""
    runtime = runtime_of(request)
    who = person.username if person else username
    entry: dict[str, Any] = {
        "time": datetime.now(UTC), "message_id": str(uuid.uuid4()), "correlation_id": None,
        "client": f"console:{who}" if who else "console", "service": None, "method": request.method,
        "path": str(request.url.path)[:2000], "user_id": who, "status": status, "latency_us": 0,
        "request_sha256": None, "response_sha256": None, "problem_type": None, "signature_report_sha256": None,
        "extra": {"console_action": action, "target": target[:500], **({"role": person.role} if person else {})},
    }
    return await runtime.audit.record(entry)
