"""Open data: publish curated datasets from source services to CKAN (DESIGN.md §8).

The pipeline (:mod:`.pipeline`) is a plain sequence of one-job modules: :mod:`.fetch`,
:mod:`.personal`, :mod:`.validate`, :mod:`.output`, :mod:`.publish`; each run is audited (:mod:`.audit`).
Datasets come from the registry (registry/datasets.py). The CLI lives in :mod:`.cli`, the worker's
schedule job in :mod:`.jobs`.
"""

from registry.dataset_spec import DatasetSpec, SpecError, load_specs, spec_from_dict

from .ckan import CkanClient, CkanTarget
from .errors import (
    HandEdited,
    OpenDataError,
    PersonalDataBlocked,
    PublishFailed,
    SchemaViolation,
    SourceUnavailable,
)
from .jobs import due_specs, run_due
from .pipeline import PipelineConfig, RunResult, run_dataset, run_many
from .status import DatasetStatus, dataset_status

__all__ = [
    "CkanClient",
    "CkanTarget",
    "DatasetSpec",
    "DatasetStatus",
    "HandEdited",
    "OpenDataError",
    "PersonalDataBlocked",
    "PipelineConfig",
    "PublishFailed",
    "RunResult",
    "SchemaViolation",
    "SourceUnavailable",
    "SpecError",
    "dataset_status",
    "due_specs",
    "load_specs",
    "run_dataset",
    "run_due",
    "run_many",
    "spec_from_dict",
]
