"""What one open dataset is: where it comes from, what it must look like, how it is published.

A :class:`DatasetSpec` is plain data, and the one definition of a dataset: the registry owns the catalogue
(``datasets`` table, ``lgsp apply``; registry/datasets.py stores specs in its rows and reads them back), and
the open-data pipeline (lgsp.opendata) runs on the same type, importing it from here. YAML files (one dataset
per file, same keys) still load here, so the pipeline is usable and testable on its own. Slugs are explicit
ASCII: CKAN would strip Vietnamese letters from a generated name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{1,99}$")
AGENCY_RE = re.compile(r"^[0-9A-Z]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Z][0-9]{2}$")
PERSONAL_MODES = ("drop", "mask", "hash")
SourceFormat = Literal["json", "csv"]


class SpecError(ValueError):
    """A dataset spec is incomplete or inconsistent; the message names the dataset and the field."""


@dataclass(frozen=True)
class DatasetSpec:
    """One curated open dataset.

    ``table_schema`` is a frictionless Table Schema; a field may carry ``"personal": "drop" | "mask" |
    "hash"`` (never published in clear) or ``"personalCheck": false`` (exempt from the pattern scan,
    e.g. a 12-digit station code). ``source_service`` is the gateway's service id
    ``{agency}/{system}/{service}``; the data is read from ``{gateway}/services/{service}/{source_path}``.
    """

    slug: str
    title_vi: str
    title_en: str
    description_vi: str
    owner_agency_id: str
    organization: str
    organization_title: str
    source_service: str
    source_path: str
    table_schema: dict[str, Any]
    source_format: SourceFormat = "json"
    description_en: str = ""
    topic: str = "dia-phuong"
    licence: str = "cc-by"
    frequency: str = "daily"
    schedule: str = "0 2 * * *"
    spatial_code: str = ""
    spatial_name: str = ""
    contact_name: str = ""
    contact_email: str = ""
    legal_basis: str = ""
    tags: tuple[str, ...] = ()
    records_key: str | None = None  # JSON sources: key of the list of records ({"data": [...]})
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = []
        if not SLUG_RE.match(self.slug):
            problems.append(f"slug {self.slug!r} must be lowercase ASCII letters, digits, '-' or '_'")
        if not SLUG_RE.match(self.organization):
            problems.append(f"organization {self.organization!r} must be an ASCII slug")
        if not AGENCY_RE.match(self.owner_agency_id):
            problems.append(f"owner_agency_id {self.owner_agency_id!r} is not an agency identifier")
        if self.source_format not in ("json", "csv"):
            problems.append(f"source_format must be json or csv, not {self.source_format!r}")
        if len(self.source_service.split("/")) < 3:
            problems.append("source_service must be {agency}/{system}/{service}")
        fields = self.table_schema.get("fields")
        if not isinstance(fields, list) or not fields:
            problems.append("table_schema needs a non-empty 'fields' list")
        else:
            for f in fields:
                mode = f.get("personal")
                if mode not in (None, False, *PERSONAL_MODES):
                    problems.append(f"field {f.get('name')!r}: personal must be one of {PERSONAL_MODES}")
        if problems:
            raise SpecError(f"dataset {self.slug!r}: " + "; ".join(problems))

    @property
    def field_names(self) -> list[str]:
        return [str(f["name"]) for f in self.table_schema["fields"]]

    @property
    def personal_fields(self) -> dict[str, str]:
        """Declared personal fields and what to do with each (drop, mask or hash)."""
        return {f["name"]: f["personal"] for f in self.table_schema["fields"] if f.get("personal")}

    @property
    def published_fields(self) -> list[str]:
        """Columns of the published resources: declared fields minus dropped personal ones."""
        personal = self.personal_fields
        return [name for name in self.field_names if personal.get(name) != "drop"]

    def source_url(self, gateway_url: str) -> str:
        return f"{gateway_url.rstrip('/')}/services/{self.source_service}/{self.source_path.lstrip('/')}"


def spec_from_dict(data: dict[str, Any]) -> DatasetSpec:
    data = dict(data)
    if "tags" in data:
        data["tags"] = tuple(data["tags"])
    try:
        return DatasetSpec(**data)
    except TypeError as exc:
        raise SpecError(f"dataset {data.get('slug')!r}: {exc}") from exc


def load_specs(directory: Path) -> dict[str, DatasetSpec]:
    """Every ``*.yaml`` dataset spec in ``directory``, by slug (duplicate slugs are an error)."""
    specs: dict[str, DatasetSpec] = {}
    for path in sorted(directory.glob("*.yaml")):
        spec = spec_from_dict(yaml.safe_load(path.read_text(encoding="utf-8")))
        if spec.slug in specs:
            raise SpecError(f"dataset slug {spec.slug!r} defined twice (second in {path})")
        specs[spec.slug] = spec
    return specs
