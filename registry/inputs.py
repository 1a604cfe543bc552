"""Checks on free-form registry inputs: display names and the WSDL file a SOAP service points at.

Names end up in the admin console, exports, CKAN pages and logs; a control character or markup in
one is at best a broken line and at worst stored XSS or a log-forging newline, so they are refused at
write time. A WSDL path is a server file path supplied by an operator: it must stay inside the schemas
directory (resolved, so `..` and symlinks cannot leave it) and be a WSDL document, and the messages here
never echo a resolved server path back to the caller.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

from lgsp.safexml import UnsafeXmlError, non_xml_char, parse_xml

WSDL_ROOTS = frozenset({"{http://schemas.xmlsoap.org/wsdl/}definitions", "{http://www.w3.org/ns/wsdl}description"})
#: Bidirectional overrides and isolates: they make a name display differently from what it is.
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_MAX_WSDL_BYTES = 16 * 1024 * 1024
#: The schemas directory shipped next to the code: where WSDL paths are confined when the caller names none.
PACKAGED_SCHEMAS_DIR = Path(__file__).resolve().parent.parent / "schemas"


class InputError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


#: Keys of the field rules a registry spec dataclass declares in ``dataclasses.field(metadata=...)``. They are
#: the one definition of each rule: :func:`check_declared` enforces them on every registry change (API, CLI,
#: ``lgsp apply``), and the admin API builds its request bodies from the same specs, so OpenAPI publishes them.
MIN_LENGTH, MAX_LENGTH, CHOICES = "min_length", "max_length", "choices"
#: A display name: 1 to 300 characters (the columns are String(300)); its characters are checked apart.
NAME: Mapping[str, Any] = {MIN_LENGTH: 1, MAX_LENGTH: 300}


def choices(*values: str) -> Mapping[str, Any]:
    """The rule "one of these values" (published as an enum)."""
    return {CHOICES: tuple(values)}


def check_declared(spec: Any) -> None:
    """Check every rule the spec's fields declare (see :data:`MIN_LENGTH`); the first broken one raises."""
    if not is_dataclass(spec):
        raise TypeError(f"{type(spec).__name__} is not a spec dataclass")
    for f in fields(spec):
        value, rules = getattr(spec, f.name), f.metadata
        allowed = rules.get(CHOICES)
        if allowed is not None and value not in allowed:
            raise InputError(f.name, f"{f.name} must be one of {', '.join(allowed)}, not {value!r}")
        if not isinstance(value, str):
            continue
        low, high = rules.get(MIN_LENGTH, 0), rules.get(MAX_LENGTH)
        if len(value) < low or (high is not None and len(value) > high):
            raise InputError(f.name, f"{f.name} must be {low}-{high if high is not None else 'any'} characters")


def _noncharacter(char: str) -> bool:
    """U+FDD0-U+FDEF and the last two code points of every plane (U+FFFE, U+FFFF, ...): Unicode keeps
    them out of interchange, and no XML document (exports, CKAN's RDF) can carry U+FFFE/U+FFFF."""
    code = ord(char)
    return 0xFDD0 <= code <= 0xFDEF or code & 0xFFFE == 0xFFFE


def check_display_name(value: str, field: str) -> str:
    """Refuse control characters, bidi overrides, noncharacters, lone surrogates and `<`/`>` in a
    human-readable name (a lone surrogate cannot even be encoded for the database: a traceback)."""
    for char in value:
        category = unicodedata.category(char)
        if category == "Cc" or char in _BIDI:
            raise InputError(field, f"{field} may not contain control characters (U+{ord(char):04X})")
        if category == "Cs" or _noncharacter(char):
            raise InputError(field, f"{field} may not contain U+{ord(char):04X} (a noncharacter or an "
                                    "unpaired surrogate)")
        if char in "<>":
            raise InputError(field, f"{field} may not contain markup characters ('<' or '>')")
    return value


def check_xml_text(value: str, field: str) -> str:
    """Refuse text no XML document can carry (not even as a character reference).

    Open-data metadata (titles, descriptions, tags, ...) ends up in the portal's RDF/XML catalogue, which
    such a character makes malformed, and NUL is refused by PostgreSQL. Markup characters are fine here:
    every output escapes them."""
    bad = non_xml_char(value)
    if bad is not None:
        raise InputError(field, f"{field} may not contain U+{ord(bad):04X} (a control character, "
                                "U+FFFE/U+FFFF or an unpaired surrogate: no XML document can carry it)")
    return value


def check_wsdl_path(value: str, schemas_dir: Path | None) -> str:
    """The WSDL path as stored (relative to the schemas directory), after confining and parsing it.

    The caller passes the schemas directory (lgsp: its ``schemas_dir`` setting); the registry reads no
    settings of its own. ``None`` means the directory shipped with the code (the setting's default)."""
    root = (schemas_dir or PACKAGED_SCHEMAS_DIR).resolve()
    if not value or any(unicodedata.category(c) == "Cc" for c in value) or "\\" in value:
        raise InputError("wsdl_path", "wsdl_path must be a relative path under the schemas directory")
    candidate = Path(value)
    resolved = (candidate if candidate.is_absolute() else root / candidate).resolve()
    if not resolved.is_relative_to(root):
        raise InputError("wsdl_path", "wsdl_path must name a file inside the schemas directory")
    if not resolved.is_file():
        raise InputError("wsdl_path", "wsdl_path names no file in the schemas directory")
    try:
        if resolved.stat().st_size > _MAX_WSDL_BYTES:
            raise InputError("wsdl_path", "the WSDL file is too large")
        document = parse_xml(resolved.read_bytes(), max_bytes=_MAX_WSDL_BYTES)
    except (OSError, UnsafeXmlError) as exc:
        raise InputError("wsdl_path", "the WSDL file cannot be read as safe XML") from exc
    if document.tag not in WSDL_ROOTS:
        raise InputError("wsdl_path", "the file is not a WSDL document (no wsdl:definitions root)")
    return resolved.relative_to(root).as_posix()


def confined_wsdl(value: str, schemas_dir: Path) -> Path | None:
    """At use time: the WSDL file, or None when a (tampered) stored path leaves the schemas directory."""
    root = schemas_dir.resolve()
    candidate = Path(value)
    resolved = (candidate if candidate.is_absolute() else root / candidate).resolve()
    return resolved if resolved.is_relative_to(root) else None
