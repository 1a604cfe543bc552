"""Create or update one dataset in CKAN idempotently.

Order of writes (so an interruption at any point converges on the next run, with no duplicates):
  1. ``package_show`` by the explicit slug -- the only call when nothing changed;
  2. if absent: make sure the organisation exists, ``package_create`` with metadata but *no* content
     hash yet;
  3. upload each resource, updating the one with the same name (never adding a second);
  4. one ``package_patch`` with metadata and provenance, the content hash last of all -- until it
     lands, the next run sees an old hash and redoes steps 3-4.
A dataset whose lgsp-controlled metadata no longer matches the hash lgsp stored was edited by hand:
it is reported, not overwritten, unless ``force``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from registry.dataset_spec import DatasetSpec

from .ckan import CkanClient
from .errors import HandEdited
from .output import Artifact

SHA256_ALGORITHM = "http://spdx.org/rdf/terms#checksumAlgorithm_sha256"
METADATA_KEYS = (
    "name", "title", "title_en", "notes", "notes_en", "organization", "agency_code", "topic",
    "license_id", "frequency", "spatial_code", "spatial_name", "contact_name", "contact_email",
    "legal_basis", "language", "tags", "lgsp_managed", "lgsp_source_service",
)


@dataclass
class Provenance:
    run_id: str
    row_count: int
    content_hash: str
    audit_index: str | None = None
    source_hash: str = ""  # hash of the source bytes + curation rules; lets an unchanged run stop early


@dataclass
class PublishOutcome:
    status: str  # "created" | "updated" | "unchanged"
    dataset_id: str
    api_calls: int
    flagged: dict[str, Any] | None = None  # hand-edit details when overwritten with force


def dataset_metadata(spec: DatasetSpec) -> dict[str, Any]:
    """The fields lgsp owns in CKAN (schema: ckan_ext/ckanext/lgsp/schemas/dataset.yaml)."""
    return {
        "name": spec.slug,
        "title": spec.title_vi,
        "title_en": spec.title_en,
        "notes": spec.description_vi,
        "notes_en": spec.description_en,
        "owner_org": spec.organization,
        "agency_code": spec.owner_agency_id,
        "topic": spec.topic,
        "license_id": spec.licence,
        "frequency": spec.frequency,
        "spatial_code": spec.spatial_code,
        "spatial_name": spec.spatial_name,
        "contact_name": spec.contact_name,
        "contact_email": spec.contact_email,
        "legal_basis": spec.legal_basis,
        "language": "vi",
        "tags": [{"name": t} for t in spec.tags],
        "lgsp_managed": True,
        "lgsp_source_service": spec.source_service,
    }


def _normalise(key: str, value: Any) -> str:
    if key == "tags":
        return ",".join(sorted(t["name"] if isinstance(t, dict) else str(t) for t in value or []))
    if key == "organization":
        return str(value.get("name") if isinstance(value, dict) else value or "")
    if key == "lgsp_managed":
        return "true" if str(value).lower() in {"true", "1", "yes", "on"} else "false"
    return "" if value is None else str(value)


def metadata_hash(dataset: dict[str, Any]) -> str:
    """Hash of the lgsp-controlled metadata as CKAN shows it (or as lgsp is about to send it)."""
    view = dict(dataset)
    if "organization" not in view:
        view["organization"] = view.get("owner_org")
    canonical = {k: _normalise(k, view.get(k)) for k in METADATA_KEYS}
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


def hand_edit_report(current: dict[str, Any]) -> dict[str, Any] | None:
    """Why ``current`` counts as edited outside lgsp, or None when it is as lgsp left it."""
    if _normalise("lgsp_managed", current.get("lgsp_managed")) != "true":
        return {"reason": "dataset exists in CKAN but is not marked as managed by lgsp"}
    stored = current.get("lgsp_metadata_hash") or ""
    actual = metadata_hash(current)
    if stored and stored != actual:
        return {"reason": "metadata changed in CKAN since lgsp published it", "stored_hash": stored,
                "actual_hash": actual, "metadata_modified": current.get("metadata_modified")}
    return None


def is_up_to_date(current: dict[str, Any], expected_metadata_hash: str, provenance: Provenance,
                  artifacts: list[Artifact]) -> bool:
    if current.get("lgsp_content_hash") != provenance.content_hash:
        return False
    if current.get("lgsp_metadata_hash") != expected_metadata_hash:
        return False
    by_name = {r.get("name"): r for r in current.get("resources", [])}
    return all(by_name.get(a.name, {}).get("hash") == a.sha256 for a in artifacts)


def unchanged_source(current: dict[str, Any] | None, spec: DatasetSpec, source_hash: str) -> bool:
    """True when CKAN already holds what these exact source bytes would produce under the same rules
    and metadata, untouched by hand -- so the run can stop before scanning and validating again."""
    return (
        current is not None
        and bool(source_hash)
        and current.get("lgsp_source_hash") == source_hash
        and bool(current.get("lgsp_content_hash"))
        and current.get("lgsp_metadata_hash") == metadata_hash(dataset_metadata(spec))
        and hand_edit_report(current) is None
    )


def check_hand_edit(current: dict[str, Any] | None, spec: DatasetSpec, *, force: bool) -> dict[str, Any] | None:
    """The hand-edit report of an existing dataset (None for a new or untouched one); raises
    :class:`HandEdited` unless ``force``. Needs no CKAN call, so a run can refuse before writing files."""
    flagged = hand_edit_report(current) if current is not None else None
    if flagged and not force:
        raise HandEdited(
            f"dataset {spec.slug} was edited outside lgsp ({flagged['reason']}); "
            "not overwritten -- review it, then publish with --force",
            {"dataset": spec.slug, **flagged},
        )
    return flagged


def show_target(client: CkanClient, spec: DatasetSpec) -> tuple[dict[str, Any] | None, bool | None]:
    """Step 1, and the read step 2 needs: ``package_show`` of the slug and -- only when the dataset does
    not exist -- whether its organisation does (``organization_show``; None when not asked). The
    pipeline makes these reads while it fetches the source, so that creating the dataset later, once
    the rows passed the checks, is the write alone and not a read and a write in turn."""
    current = client.show_or_none("package_show", spec.slug)
    if current is not None:
        return current, None
    return None, client.show_or_none("organization_show", spec.organization) is not None


def create_dataset(client: CkanClient, spec: DatasetSpec, run_id: str,
                   organization_exists: bool | None = None) -> dict[str, Any]:
    """Step 2: the organisation if missing, then the dataset with metadata and no content hash yet.
    ``organization_exists``: what :func:`show_target` found (None: ask CKAN now)."""
    metadata = dataset_metadata(spec)
    if organization_exists is None:
        organization_exists = client.show_or_none("organization_show", spec.organization) is not None
    if not organization_exists:
        _create_organization(client, spec)
    created: dict[str, Any] = client.call("package_create", {
        **metadata, "lgsp_metadata_hash": metadata_hash(metadata), "lgsp_content_hash": "", "lgsp_run_id": run_id})
    return created


def upload_needed(current: dict[str, Any], artifact: Artifact, flagged: dict[str, Any] | None) -> bool:
    resource = _resources(current).get(artifact.name)
    return resource is None or resource.get("hash") != artifact.sha256 or bool(flagged)


def upload_resource(client: CkanClient, current: dict[str, Any], artifact: Artifact, provenance: Provenance,
                    flagged: dict[str, Any] | None) -> dict[str, Any] | None:
    """Step 3 for one file: update the resource of the same name, create it if absent, or nothing when it
    already holds these bytes (uploaded by an interrupted earlier run). Uploads of different resources
    may run concurrently: CKAN locks the dataset row for each (``package_show`` ``for_update``). Returns
    the resource as CKAN answered, or None when nothing was sent."""
    if not upload_needed(current, artifact, flagged):
        return None
    fields = {"name": artifact.name, "format": artifact.format, "mimetype": artifact.mimetype,
              "hash": artifact.sha256, "hash_algorithm": SHA256_ALGORITHM,
              "description": f"lgsp run {provenance.run_id}"}
    upload = {"upload": (artifact.name, artifact.data, artifact.mimetype)}
    resource = _resources(current).get(artifact.name)
    action, ref = ("resource_create", {"package_id": current["id"]}) if resource is None else \
        ("resource_update", {"id": resource["id"]})
    answer: dict[str, Any] = client.call(action, {**ref, **fields}, files=upload)
    return answer


def finish(client: CkanClient, current: dict[str, Any], spec: DatasetSpec, provenance: Provenance) -> None:
    """Step 4: metadata and provenance in one ``package_patch``, the content hash landing with it."""
    metadata = dataset_metadata(spec)
    client.call("package_patch", {
        "id": current["id"],
        **metadata,
        "lgsp_metadata_hash": metadata_hash(metadata),
        "lgsp_run_id": provenance.run_id,
        "lgsp_row_count": provenance.row_count,
        "lgsp_audit_index": provenance.audit_index or "",
        "lgsp_published_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "lgsp_source_hash": provenance.source_hash,
        "lgsp_content_hash": provenance.content_hash,
        "modified": datetime.now(UTC).strftime("%Y-%m-%d"),
    })


def publish(client: CkanClient, spec: DatasetSpec, artifacts: list[Artifact], provenance: Provenance,
            *, force: bool = False, current: dict[str, Any] | None = None,
            shown: bool = False) -> PublishOutcome:
    """Make CKAN hold ``artifacts`` under ``spec.slug`` with provenance; see the module docstring.
    ``shown=True`` means ``current`` is the package_show answer the caller already fetched. The steps
    one after another (the pipeline runs the same steps overlapped with its own work)."""
    start_calls = client.calls
    if not shown:
        current = client.show_or_none("package_show", spec.slug)
    flagged = check_hand_edit(current, spec, force=force)
    if current is None:
        current, status = create_dataset(client, spec, provenance.run_id), "created"
    else:
        if not flagged and is_up_to_date(current, metadata_hash(dataset_metadata(spec)), provenance, artifacts):
            return PublishOutcome("unchanged", current["id"], client.calls - start_calls)
        status = "updated"
    for artifact in artifacts:
        upload_resource(client, current, artifact, provenance, flagged)
    finish(client, current, spec, provenance)
    return PublishOutcome(status, current["id"], client.calls - start_calls, flagged)


def _resources(current: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r.get("name"): r for r in current.get("resources", [])}


def _create_organization(client: CkanClient, spec: DatasetSpec) -> None:
    client.call("organization_create", {
        "name": spec.organization,
        "title": spec.organization_title,
        "description": f"Mã định danh: {spec.owner_agency_id}",
        "extras": [{"key": "agency_code", "value": spec.owner_agency_id}],
    })
