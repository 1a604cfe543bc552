"""Roles, X-Road style, and the one table of what each may do.

Reading is open to every role; each change names a permission here, checked on the server for every POST
(buttons a role may not use are not rendered either, but that is convenience, not security).
"""

from __future__ import annotations

ROLES = ("operator", "security_officer", "auditor", "observer")

ROLE_NAMES = {
    "operator": ("Vận hành", "Operator"),
    "security_officer": ("Cán bộ an toàn thông tin", "Security officer"),
    "auditor": ("Kiểm toán", "Auditor"),
    "observer": ("Quan sát", "Observer"),
}

PERMISSIONS: dict[str, frozenset[str]] = {
    "registry.write": frozenset({"operator"}),
    "clients.write": frozenset({"operator"}),
    "keys.rotate": frozenset({"operator", "security_officer"}),
    "deliveries.write": frozenset({"operator"}),
    "signatures.verify": frozenset({"operator", "security_officer", "auditor"}),
    "audit.export": frozenset({"auditor"}),
    "audit.sign_head": frozenset({"auditor", "operator"}),
}


def allowed(role: str, permission: str) -> bool:
    return role in PERMISSIONS.get(permission, frozenset())
