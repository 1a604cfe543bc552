"""Audit entries fitted to their columns before they are hashed and inserted.

Why: PostgreSQL refuses a value longer than its ``VARCHAR(n)``, and that refusal failed the whole
group-commit batch. One caller with a 300-character ``X-LGSP-User-Id``, or a 3,000-character path (no
token needed: refusals are audited too), turned every call that shared its batch into a 500. SQLite
does not check lengths, so the two backends also kept different logs.

Fitted here, an entry is the same on both backends and its hash covers exactly what is stored.
``extra.clamped`` tells an auditor which fields were cut, and how long they were.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import String, Table

from lgsp.audit.models import AuditEntry

__all__ = ["column_limit", "fit_to_columns"]

#: (column, its length) for every bounded text column of ``audit_entries``
_LIMITS = [(c.name, c.type.length) for c in cast(Table, AuditEntry.__table__).columns
           if isinstance(c.type, String) and c.type.length]
_MARK = "…"  # one character: a cut value is still within its column


def column_limit(name: str) -> int:
    """The length of the ``audit_entries`` text column ``name``: the gateway refuses longer inputs up front."""
    return dict(_LIMITS)[name]


def fit_to_columns(entry: dict[str, Any]) -> dict[str, Any]:
    """``entry`` itself when every text fits its column, else a copy with the long ones cut and noted."""
    cut: dict[str, int] | None = None
    for name, limit in _LIMITS:
        value = entry.get(name)
        if value.__class__ is str and len(value) > limit:
            if cut is None:
                entry, cut = dict(entry), {}
            cut[name] = len(value)
            entry[name] = value[: limit - len(_MARK)] + _MARK
    if cut is not None:
        entry["extra"] = {**(entry.get("extra") or {}), "clamped": cut}
    return entry
