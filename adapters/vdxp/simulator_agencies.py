"""The axis simulator's agency directory operations: getAgenciesList(QD20), getSynchronizeUnit,
registerAgency and deleteAgency.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response

from . import hmac_auth
from .edxml import is_agency_code
from .simulator_config import DirectoryEntry
from .simulator_state import AxisFault, AxisState, _ok


async def get_agencies(request: Request, state: AxisState, verified: hmac_auth.VerifiedRequest) -> Response:
    with state.lock:
        rows = [entry.as_axis_json() for entry in sorted(state.directory.values(), key=lambda e: e.code)]
    return _ok(data=rows)


async def get_synchronize_unit(request: Request, state: AxisState, verified: hmac_auth.VerifiedRequest) -> Response:
    with state.lock:
        rows = [
            {
                "id": e.id or e.code,
                "pid": e.pid,
                "code": e.code,
                "name": e.name,
                "mail": e.mail,
                "centerCode": "",
                "version": 1,
                "deleted": False,
                "modifyDate": "",
                "isAgency": True,
            }
            for e in sorted(state.directory.values(), key=lambda e: e.code)
        ]
    return _ok(data=rows)


async def register_agency(request: Request, state: AxisState, verified: hmac_auth.VerifiedRequest) -> Response:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError as exc:
        raise AxisFault(400, "BAD_JSON", "registerAgency needs a JSON body") from exc
    if not isinstance(body, dict):
        raise AxisFault(400, "BAD_JSON", "registerAgency needs a JSON object")
    code = str(body.get("code") or "")
    name = str(body.get("name") or "")
    if not is_agency_code(code):
        raise AxisFault(400, "BAD_AGENCY_CODE", f"{code!r} is not an agency code NNN.NN.NN.XNN "
                        "or another accepted form (LGSP_AGENCY_ID_PATTERNS)")
    if not name.strip():
        raise AxisFault(400, "MISSING_NAME", "an agency needs a name")
    entry = DirectoryEntry(
        code=code,
        name=name,
        id=str(body.get("id") or ""),
        pid=str(body.get("pcode") or ""),
        mail=str(body.get("mail") or ""),
        mobile=str(body.get("mobile") or ""),
        fax=str(body.get("fax") or ""),
    )
    with state.lock:
        state.directory[code] = entry
    return _ok()


async def delete_agency(request: Request, state: AxisState, verified: hmac_auth.VerifiedRequest) -> Response:
    code = verified.fields["AgencyCode"]
    with state.lock:
        if state.directory.pop(code, None) is None:
            raise AxisFault(404, "NOT_FOUND", f"agency {code} is not registered")
    return _ok()
