"""Identifiers of the registry: agency codes, system codes, service ids.

Agency codes follow QCVN 102:2016 (`NNN.NN.NN.XNN`, e.g. `000.00.12.H10`): three groups of digits for
levels 4..2 and a level-1 group of one capital letter and two digits. A service id is
`{agency}/{system}/{service}` like X-Road's member/subsystem/service.
"""

from __future__ import annotations

import re

from lgsp import agency_ids

AGENCY_CODE_PATTERN = r"^\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}$"
_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class InvalidIdentifier(ValueError):
    """An identifier does not have the required form; ``field`` names the offending input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def validate_agency_code(code: str, field: str = "agency") -> str:
    """Canonical ``NNN.NN.NN.XNN`` or another accepted form (``LGSP_AGENCY_ID_PATTERNS``, see
    ``lgsp.agency_ids``): partners on the axes use two-letter groups, VXP SaaS tenant ids, older codes."""
    if not isinstance(code, str) or not agency_ids.is_accepted(code):
        raise InvalidIdentifier(
            field, f"{code!r} is not an agency code of the form NNN.NN.NN.XNN (e.g. 000.00.12.H10) "
            f"or another form accepted by {agency_ids.ENV}"
        )
    return code


def validate_code(code: str, field: str) -> str:
    """System and service codes: short ASCII codes such as `QLVB`, `MOTCUA`, `tra-cuu`."""
    if not isinstance(code, str) or not _CODE_RE.match(code):
        raise InvalidIdentifier(field, f"{code!r} must be 1-64 ASCII letters, digits, '-' or '_'")
    return code


def system_id(agency: str, system: str) -> str:
    return f"{agency}/{system}"


def service_id(agency: str, system: str, service: str) -> str:
    return f"{agency}/{system}/{service}"


def split_system_id(value: str, field: str = "system") -> tuple[str, str]:
    parts = value.split("/")
    if len(parts) != 2:
        raise InvalidIdentifier(field, f"{value!r} is not a system id of the form AGENCY/SYSTEM")
    return validate_agency_code(parts[0], field), validate_code(parts[1], field)


def split_service_id(value: str, field: str = "service") -> tuple[str, str, str]:
    parts = value.split("/")
    if len(parts) != 3:
        raise InvalidIdentifier(field, f"{value!r} is not a service id of the form AGENCY/SYSTEM/SERVICE")
    return (
        validate_agency_code(parts[0], field),
        validate_code(parts[1], field),
        validate_code(parts[2], field),
    )
