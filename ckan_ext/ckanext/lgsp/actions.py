"""``lgsp_provenance_show``: where a dataset came from, as written by lgsp's publishing pipeline."""

from __future__ import annotations

from typing import Any

from ckan.plugins import toolkit as tk

from .auth import is_true
from .text import writable

PROVENANCE_FIELDS = (
    "lgsp_source_service", "lgsp_run_id", "lgsp_row_count", "lgsp_content_hash",
    "lgsp_metadata_hash", "lgsp_audit_index", "lgsp_published_at",
)


@tk.side_effect_free
def lgsp_provenance_show(context: dict[str, Any], data_dict: dict[str, Any]) -> dict[str, Any]:
    """Return the provenance of dataset ``id`` (name or id) and of each of its resources.

    :param id: the dataset's id or name
    :returns: ``managed`` (bool), the ``lgsp_*`` fields without their prefix, ``metadata_modified`` and
        ``resources`` (name, format, url, sha256) -- everything a consumer needs to check a download.
    """
    ref = tk.get_or_bust(data_dict, "id")
    if not isinstance(ref, str) or not writable(ref):  # a list (id=a&id=b), a number, NUL: not a name
        raise tk.ValidationError({"id": [tk._("Must be one dataset name or id (a string)")]})
    tk.check_access("lgsp_provenance_show", context, {"id": ref})
    dataset = tk.get_action("package_show")(dict(context), {"id": ref})
    row_count = dataset.get("lgsp_row_count")
    provenance: dict[str, Any] = {
        "id": dataset["id"],
        "name": dataset["name"],
        "managed": is_true(dataset.get("lgsp_managed", "")),
        "metadata_modified": dataset.get("metadata_modified"),
        "resources": [
            {
                "id": res["id"],
                "name": res.get("name"),
                "format": res.get("format"),
                "url": res.get("url"),
                "sha256": res.get("hash") or None,
            }
            for res in dataset.get("resources", [])
        ],
    }
    for field in PROVENANCE_FIELDS:
        provenance[field.removeprefix("lgsp_")] = dataset.get(field)
    provenance["row_count"] = _int(row_count)
    provenance["audit_index"] = _int(dataset.get("lgsp_audit_index"))  # an index, not a string
    return provenance


def _int(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
