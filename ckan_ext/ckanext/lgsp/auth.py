"""Auth rule: a dataset marked ``lgsp_managed`` may be changed only by lgsp's publisher user.

Chained in front of CKAN's own rules and flagged ``auth_sysadmins_check`` so that even sysadmins go
through it: the portal's copy of a curated dataset must never drift from what the gateway published,
and the pipeline detects hand edits through the metadata hash anyway.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ckan import authz, model
from ckan.plugins import toolkit as tk

TRUE_VALUES = {"true", "1", "yes", "on"}
AuthResult = dict[str, Any]
AuthFn = Callable[[dict[str, Any], dict[str, Any]], AuthResult]


def publisher_user() -> str:
    return str(tk.config.get("ckanext.lgsp.publisher_user") or "lgsp_publisher")


def is_true(value: Any) -> bool:
    return str(value).strip().lower() in TRUE_VALUES


def package_is_managed(package: model.Package | None) -> bool:
    return package is not None and is_true(package.extras.get("lgsp_managed", ""))


def _package_from_resource(resource_id: Any) -> model.Package | None:
    resource = model.Resource.get(resource_id) if _ref(resource_id) else None
    return model.Package.get(resource.package_id) if resource is not None else None


def _ref(value: Any) -> bool:
    """Only a non-empty string names a dataset or resource: ``{"name": 271017}`` made ``Package.get`` send
    an integer to PostgreSQL (a 500 from the SQL layer) before CKAN's own validation could refuse it."""
    return isinstance(value, str) and bool(value)


def _package_for(action: str, data_dict: dict[str, Any]) -> model.Package | None:
    if action == "resource_create":
        ref = data_dict.get("package_id")
        return model.Package.get(ref) if _ref(ref) else None
    if action.startswith("resource_"):
        return _package_from_resource(data_dict.get("id"))
    ref = data_dict.get("id") or data_dict.get("name")
    if action == "package_revise":
        match = data_dict.get("match")
        match = match if isinstance(match, dict) else {}
        ref = match.get("id") or match.get("name")
    return model.Package.get(ref) if _ref(ref) else None


def _denied() -> AuthResult:
    return {
        "success": False,
        "msg": tk._("This dataset is published by lgsp; only the lgsp publisher account may change it."),
    }


def _guard(action: str) -> Callable[..., AuthResult]:
    @tk.chained_auth_function
    @tk.auth_sysadmins_check
    def guarded(next_auth: AuthFn, context: dict[str, Any], data_dict: dict[str, Any]) -> AuthResult:
        if context.get("user") != publisher_user():
            if package_is_managed(_package_for(action, data_dict or {})):
                return _denied()
            if action == "package_create" and is_true((data_dict or {}).get("lgsp_managed", "")):
                return _denied()
        return next_auth(context, data_dict)

    guarded.__name__ = f"lgsp_{action}"
    return guarded


GUARDED_ACTIONS = (
    "package_create", "package_update", "package_patch", "package_delete", "package_revise",
    "package_resource_reorder", "package_owner_org_update",
    "resource_create", "resource_update", "resource_patch", "resource_delete",
)


def get_auth_functions() -> dict[str, Callable[..., AuthResult]]:
    functions: dict[str, Callable[..., AuthResult]] = {name: _guard(name) for name in GUARDED_ACTIONS}
    functions["lgsp_provenance_show"] = lgsp_provenance_show
    return functions


@tk.auth_allow_anonymous_access
def lgsp_provenance_show(context: dict[str, Any], data_dict: dict[str, Any]) -> AuthResult:
    """Whoever may see the dataset may see where it came from."""
    return authz.is_authorized("package_show", context, data_dict)  # type: ignore[return-value]
