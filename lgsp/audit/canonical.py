"""Audit entry format v1: the exact bytes a Merkle leaf commits to.

Why a separate, versioned encoding: an auditor must recompute a leaf hash from an exported entry
without our database, ORM or Python version. v1 is the RFC 8785 (JCS) serialisation of a JSON object
restricted so that JCS is trivial to reproduce in any language: keys sorted by UTF-16 code units, no
whitespace, UTF-8, and *no floating-point numbers anywhere* (latency is integer microseconds; floats
in ``extra`` are refused), so the one hard part of JCS — number formatting — never arises.
The specification for outside implementers is ``docs/protocols/audit-entry-v1.md``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from lgsp.audit.merkle import leaf_hash

__all__ = [
    "ENTRY_FIELDS",
    "ENTRY_VERSION",
    "TIME_PATTERN",
    "CanonicalError",
    "canonical_entry",
    "canonical_entry_bytes",
    "entry_leaf_hash",
    "format_time",
    "jcs_bytes",
    "pick_entry_fields",
    "writer_entry_bytes",
]

ENTRY_VERSION = 1
MAX_SAFE_INTEGER = 2**53 - 1  # I-JSON (RFC 7493): larger integers are not portable across parsers

_HEX64 = re.compile(r"[0-9a-f]{64}")
TIME_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z", re.ASCII)  # ASCII: no other digits

_REQUIRED_STR = ("message_id", "method", "path")
_OPTIONAL_STR = ("correlation_id", "client", "service", "user_id", "problem_type")
_REQUIRED_HEX: tuple[str, ...] = ()
_OPTIONAL_HEX = ("request_sha256", "response_sha256", "signature_report_sha256")
_REQUIRED_INT = ("index", "status", "latency_us")

ENTRY_FIELDS: tuple[str, ...] = (
    "v",
    "index",
    "time",
    *_REQUIRED_STR,
    *_OPTIONAL_STR,
    "status",
    "latency_us",
    *_REQUIRED_HEX,
    *_OPTIONAL_HEX,
    "extra",
)
"""Every key of a v1 canonical entry; all are always present (absent values are JSON null)."""


class CanonicalError(ValueError):
    """An entry cannot be encoded in v1; the message names the field and the rule broken."""


def format_time(value: datetime) -> str:
    """RFC 3339 in UTC with exactly six fractional digits and a ``Z``: one spelling per instant."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise CanonicalError("time must be timezone-aware (naive datetimes are ambiguous)")
    # isoformat runs in C and always writes a 4-digit year and, with timespec, 6 fractional digits
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


# --- JCS (RFC 8785) for the float-free subset ------------------------------------------------------

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


_SURROGATE = re.compile("[\ud800-\udfff]")


def _jcs_string(s: str) -> str:
    # For strings, RFC 8785 serialisation is exactly what json.dumps(ensure_ascii=False) produces: the
    # two-character escapes for \b \f \n \r \t " \\, lowercase \u00XX for other controls, everything
    # else literal. json.dumps runs in C; only lone surrogates (not valid I-JSON) need a separate check.
    if _SURROGATE.search(s):
        raise CanonicalError("strings must not contain lone UTF-16 surrogates")
    return json.dumps(s, ensure_ascii=False)


def _jcs(value: Any, where: str) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise CanonicalError(f"{where}: integer {value} exceeds 2**53-1; encode it as a string")
        return str(value)
    if isinstance(value, float):
        raise CanonicalError(f"{where}: floats are not allowed in v1; use an integer or a string")
    if isinstance(value, str):
        return _jcs_string(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(_jcs(v, f"{where}[{i}]") for i, v in enumerate(value)) + "]"
    if isinstance(value, Mapping):
        for k in value:
            if not isinstance(k, str):
                raise CanonicalError(f"{where}: object keys must be strings, got {k!r}")
        keys = sorted(value, key=lambda k: k.encode("utf-16-be"))
        return "{" + ",".join(f"{_jcs_string(k)}:{_jcs(value[k], f'{where}.{k}')}" for k in keys) + "}"
    raise CanonicalError(f"{where}: {type(value).__name__} is not a JSON value")


def jcs_bytes(value: Any) -> bytes:
    """RFC 8785 canonical JSON of a float-free value, UTF-8 encoded."""
    return _jcs(value, "$").encode("utf-8")


# --- the entry --------------------------------------------------------------------------------------


def pick_entry_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    """Select the v1 fields from a wider mapping (e.g. an ``audit_entries`` row).

    Maps the store's column names onto v1: ``idx`` -> ``index``, ``latency_ms`` (float) ->
    ``latency_us`` = round(ms * 1000), and a naive ``time`` (SQLite drops the zone) is taken as UTC.
    Convenience for the writer side only: the verifier uses :func:`canonical_entry`, which refuses
    unknown keys so nothing in a bundle can look committed when it is not.
    """
    picked = {k: row[k] for k in ENTRY_FIELDS if k in row}
    if "index" not in picked and "idx" in row:
        picked["index"] = row["idx"]
    if "latency_us" not in picked and "latency_ms" in row:
        picked["latency_us"] = round(float(row["latency_ms"]) * 1000)
    when = picked.get("time")
    if isinstance(when, datetime) and when.tzinfo is None:
        picked["time"] = when.replace(tzinfo=UTC)
    picked.setdefault("v", ENTRY_VERSION)
    return picked


_FIELD_SET = frozenset(ENTRY_FIELDS)
_STR_RULES = tuple((name, name in _OPTIONAL_STR) for name in _REQUIRED_STR + _OPTIONAL_STR)
_HEX_RULES = tuple((name, name in _OPTIONAL_HEX) for name in _REQUIRED_HEX + _OPTIONAL_HEX)


def canonical_entry(entry: Mapping[str, Any]) -> dict[str, Any]:
    """Validate ``entry`` and return its v1 canonical form (a plain dict of exactly ENTRY_FIELDS).

    Optional fields may be omitted (they become null), ``extra`` defaults to ``{}``, ``time`` may be
    an aware datetime or the canonical string, ``v`` defaults to 1. Anything else is an error.

    The audit writer runs this once per exchange, under the sequencer lock, so each check tests the
    common shape first (an exact ``int``, a non-empty ``str``, ``None``) and only falls back to the
    general rule when that fails; the rules themselves are the ones stated in the messages.
    """
    if not _FIELD_SET.issuperset(entry):
        unknown = sorted(set(entry) - _FIELD_SET)
        raise CanonicalError(f"unknown field(s) {unknown}: v1 entries have only {list(ENTRY_FIELDS)}")
    get = entry.get
    version = get("v", ENTRY_VERSION)
    if version != ENTRY_VERSION or isinstance(version, bool):
        raise CanonicalError(f"entry version {version!r} is not {ENTRY_VERSION}")
    out: dict[str, Any] = {"v": ENTRY_VERSION}

    for name in _REQUIRED_INT:
        value = get(name)
        if value.__class__ is not int and (not isinstance(value, int) or isinstance(value, bool)):
            raise CanonicalError(f"{name} must be an integer, got {value!r}")
        if not 0 <= value <= MAX_SAFE_INTEGER:
            raise CanonicalError(f"{name} must be between 0 and 2**53-1, got {value}")
        out[name] = value

    when = get("time")
    if isinstance(when, datetime):
        out["time"] = format_time(when)
    elif isinstance(when, str) and TIME_PATTERN.fullmatch(when):
        out["time"] = when
    else:
        raise CanonicalError(f"time must be an aware datetime or 'YYYY-MM-DDTHH:MM:SS.ffffffZ', got {when!r}")

    for name, optional in _STR_RULES:
        value = get(name)
        if (value is None and optional) or (isinstance(value, str) and (value or optional)):
            out[name] = value
        else:
            raise CanonicalError(f"{name} must be a non-empty string, got {value!r}")

    for name, optional in _HEX_RULES:
        value = get(name)
        if (value is None and optional) or (isinstance(value, str) and _HEX64.fullmatch(value)):
            out[name] = value
        else:
            raise CanonicalError(f"{name} must be 64 lowercase hex digits (SHA-256), got {value!r}")

    extra = get("extra", {})
    if extra is None:
        extra = {}
    if not isinstance(extra, Mapping):
        raise CanonicalError(f"extra must be a JSON object, got {type(extra).__name__}")
    if extra:
        jcs_bytes(extra)  # validates: no floats, string keys, no surrogates
    out["extra"] = dict(extra)
    return out


_BEYOND_BMP = re.compile("[\U00010000-\U0010ffff]")


def canonical_entry_bytes(entry: Mapping[str, Any]) -> bytes:
    """The v1 canonical bytes of an entry: JCS of :func:`canonical_entry`.

    Fast path (this runs once per exchange on the writer's hot path): see :func:`_validated_bytes`.
    """
    return _validated_bytes(canonical_entry(entry))


# What json.dumps(..., ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False) builds
# on every call, built once: the same C encoder, without constructing an encoder per entry.
_ENCODE = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False).encode
_STRING = json.encoder.encode_basestring  # the C function json.dumps(str, ensure_ascii=False) calls

# A v1 entry's keys are fixed and ASCII, so their JCS order is known in advance: the entry's JSON is
# this template with each value encoded on its own, twice as fast as encoding the dict (the dict
# encoder sorts the keys and dispatches on every value's type). Checked against ENTRY_FIELDS below.
_TEMPLATE = (
    '{"client":%s,"correlation_id":%s,"extra":%s,"index":%d,"latency_us":%d,"message_id":%s,"method":%s,'
    '"path":%s,"problem_type":%s,"request_sha256":%s,"response_sha256":%s,"service":%s,'
    '"signature_report_sha256":%s,"status":%d,"time":"%s","user_id":%s,"v":%d}'
)
if re.findall(r'"(\w+)":', _TEMPLATE) != sorted(ENTRY_FIELDS, key=lambda k: k.encode("utf-16-be")):
    raise AssertionError("canonical._TEMPLATE is out of step with ENTRY_FIELDS")


def _nullable(value: str | None) -> str:
    return "null" if value is None else _STRING(value)


def _validated_bytes(canonical: Mapping[str, Any]) -> bytes:
    """JCS bytes of a dict made by :func:`canonical_entry`, without the general encoder.

    Once :func:`canonical_entry` has validated the entry — no floats, string keys, integers in range,
    ``time`` in its one spelling — the C JSON string encoder with the keys in the template's order
    *is* JCS, except for two things the text is checked for: lone surrogates (refused, as in
    :func:`jcs_bytes`) and characters beyond U+FFFF, where code-point key order inside ``extra`` may
    differ from JCS's UTF-16 order (such entries take the reference encoder).
    """
    c = canonical
    extra = c["extra"]
    text = _TEMPLATE % (
        _nullable(c["client"]), _nullable(c["correlation_id"]), _ENCODE(extra) if extra else "{}", c["index"],
        c["latency_us"], _STRING(c["message_id"]), _STRING(c["method"]), _STRING(c["path"]),
        _nullable(c["problem_type"]), _nullable(c["request_sha256"]), _nullable(c["response_sha256"]),
        _nullable(c["service"]), _nullable(c["signature_report_sha256"]), c["status"], c["time"],
        _nullable(c["user_id"]), c["v"],
    )
    if not text.isascii():  # the common case skips both scans
        if _SURROGATE.search(text):
            raise CanonicalError("strings must not contain lone UTF-16 surrogates")
        if _BEYOND_BMP.search(text):
            return jcs_bytes(canonical)
    return text.encode("utf-8")


def entry_leaf_hash(entry: Mapping[str, Any]) -> bytes:
    """The Merkle leaf hash of an entry: SHA-256(0x00 || canonical_entry_bytes(entry))."""
    return leaf_hash(canonical_entry_bytes(entry))


def canonical_leaf_hash(canonical: Mapping[str, Any]) -> bytes:
    """:func:`entry_leaf_hash` of a dict that *is* the output of :func:`canonical_entry` (not re-validated).

    For verifiers that already called :func:`canonical_entry` on the same object: halves their work.
    """
    return leaf_hash(_validated_bytes(canonical))


def writer_entry_bytes(entry: Mapping[str, Any], index: int) -> tuple[bytes, str]:
    """``canonical_entry_bytes`` of ``entry`` at ``index`` as the writer sees it, and its canonical time.

    The writer's entries come from the gateway in one shape (aware UTC ``time``, exact ints and strs,
    usually an empty ``extra``); for those, the checks of :func:`canonical_entry` are done here on the
    entry itself, without the two intermediate dicts of ``pick_entry_fields`` and ``canonical_entry``
    (a third of the audited append's CPU). Anything else — another zone, a naive time, a wider row, a
    value of an unusual type, an invalid value — takes the general path, which gives the same bytes or
    the same error. Tested against the general path in ``tests/audit_log/test_canonical_fast.py``.
    """
    get = entry.get
    when, status, latency = get("time"), get("status"), get("latency_us")
    message_id, method, path = get("message_id"), get("method"), get("path")
    if (when.__class__ is datetime and when.tzinfo is UTC and status.__class__ is int
            and latency.__class__ is int and 0 <= status <= MAX_SAFE_INTEGER and 0 <= latency <= MAX_SAFE_INTEGER
            and 0 <= index <= MAX_SAFE_INTEGER and index.__class__ is int
            and message_id.__class__ is str and method.__class__ is str and path.__class__ is str
            and message_id and method and path and "v" not in entry):
        optional = [get(name) for name in _TEMPLATE_OPTIONAL]
        extra = get("extra")
        if all(v is None or v.__class__ is str for v in optional) and (extra is None or extra.__class__ is dict):
            client, correlation_id, problem, request, response, service, report, user_id = optional
            if all(v is None or _HEX64.fullmatch(v) for v in (request, response, report)):
                if extra:
                    jcs_bytes(extra)  # validates: no floats, string keys, no surrogates
                time = when.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
                text = _TEMPLATE % (
                    _nullable(client), _nullable(correlation_id), _ENCODE(extra) if extra else "{}", index,
                    latency, _STRING(message_id), _STRING(method), _STRING(path), _nullable(problem),
                    _nullable(request), _nullable(response), _nullable(service), _nullable(report), status,
                    time, _nullable(user_id), ENTRY_VERSION,
                )
                if text.isascii():
                    return text.encode("utf-8"), time
    picked = pick_entry_fields(entry)
    picked["index"] = index
    canonical = canonical_entry(picked)
    return _validated_bytes(canonical), canonical["time"]


# The optional string fields in the order writer_entry_bytes unpacks them.
_TEMPLATE_OPTIONAL = ("client", "correlation_id", "problem_type", "request_sha256", "response_sha256", "service",
                      "signature_report_sha256", "user_id")
