"""Why a publishing run stopped. Each carries a report a person can act on; none leaves CKAN half-done
in a way the next run cannot converge from."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


class OpenDataError(Exception):
    """Base of the pipeline's failures; ``status`` is the run status recorded for it."""

    status = "failed"

    def __init__(self, message: str, report: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.report = report or {}


class SourceUnavailable(OpenDataError):
    """The source service could not be read (down, timeout, non-2xx, unparsable body)."""

    status = "source_failed"


class SchemaViolation(OpenDataError):
    """Rows failed the Table Schema; ``report['errors']`` lists row, field and message."""

    status = "invalid"


class PersonalDataBlocked(OpenDataError):
    """Values looking like personal data in a field not declared personal; nothing was published."""

    status = "blocked"


class HandEdited(OpenDataError):
    """The dataset in CKAN was changed outside lgsp; publish with ``force`` to overwrite."""

    status = "hand_edited"


class PublishFailed(OpenDataError):
    """CKAN refused or failed a call; the next run converges (idempotent slug, resources by name)."""

    status = "publish_failed"


@dataclass
class Finding:
    """One personal-data finding: which field, which pattern, which data rows (values never echoed)."""

    field: str
    pattern: str
    rows: list[int] = dataclasses.field(default_factory=list)
    count: int = 0
