"""Validation against lgsp's edXML XSDs (``schemas/edxml/``), loaded by path, never by network.

Compiled schemas are cached per process; lxml's ``XMLSchema`` objects are safe to reuse for validation
from one thread at a time, so each thread gets its own copy.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Literal

from lxml import etree

from lgsp.safexml import hardened_parser

from .errors import EdxmlError

PacketKind = Literal["edoc", "status"]

_SCHEMA_FILES: dict[str, str] = {"edoc": "edxml-document.xsd", "status": "edxml-status.xsd"}
_local = threading.local()


def schema_dir() -> Path:
    """``schemas/edxml`` of this checkout, or ``$LGSP_SCHEMAS_DIR/edxml`` when set."""
    override = os.environ.get("LGSP_SCHEMAS_DIR")
    base = Path(override) if override else Path(__file__).resolve().parents[3] / "schemas"
    return base / "edxml"


def load_schema(kind: PacketKind) -> etree.XMLSchema:
    """The compiled XSD for one packet kind (cached per thread)."""
    cache: dict[str, etree.XMLSchema] = _local.__dict__.setdefault("schemas", {})
    if kind not in cache:
        path = schema_dir() / _SCHEMA_FILES[kind]
        cache[kind] = etree.XMLSchema(etree.parse(str(path), hardened_parser()))
    return cache[kind]


def schema_errors(root: etree._Element, kind: PacketKind) -> list[str]:
    """Every XSD violation of a parsed packet, as ``line N: message`` strings (empty when valid)."""
    schema = load_schema(kind)
    if schema.validate(root):
        return []
    return [f"line {error.line}: {error.message}" for error in schema.error_log]


def validate(root: etree._Element, kind: PacketKind) -> None:
    """Raise ``EdxmlError('schema-invalid')`` listing the violations when ``root`` is not valid."""
    errors = schema_errors(root, kind)
    if errors:
        raise EdxmlError("schema-invalid", "; ".join(errors[:10]))
