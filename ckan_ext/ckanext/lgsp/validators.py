"""Validators for identifiers the Vietnamese schema carries (wired through IValidators)."""

from __future__ import annotations

import re
from typing import Any

from ckan.plugins import toolkit as tk

# Mã định danh điện tử của cơ quan (QĐ 20/2020/QĐ-TTg), e.g. 000.00.12.H10 or G12.34.56.
AGENCY_CODE_RE = re.compile(r"^[0-9A-Z]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Z][0-9]{2}$")
# Mã đơn vị hành chính: 2 digits (province), 3 (district) or 5 (commune/ward), optionally several.
ADMIN_UNIT_RE = re.compile(r"^\d{2}(\d|\d{3})?$")


def lgsp_agency_code(value: Any) -> Any:
    if not isinstance(value, str) or not AGENCY_CODE_RE.match(value):
        raise tk.Invalid(tk._("Agency identifier must look like 000.00.12.H10"))
    return value


def lgsp_admin_unit_code(value: Any) -> Any:
    if value in (None, ""):
        return value
    codes = [c.strip() for c in str(value).split(",") if c.strip()]
    if not codes or not all(ADMIN_UNIT_RE.match(c) for c in codes):
        raise tk.Invalid(tk._("Administrative unit code must be 2, 3 or 5 digits"))
    return ",".join(codes)
