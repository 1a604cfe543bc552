"""A versioned validation policy in the style of the DSS constraint file.

Whether an expired OCSP nonce or a SHA-1 digest is fatal is a decision of the operator, not of the code,
and it changes over time (SHA-1 was acceptable before a date, weak after). So every check the verifiers
make is named here with a level — fail / warn / inform / ignore — and algorithm rules carry dates. The
policy's name and version go into each report, so a verdict can be reproduced later under the same rules.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from .revlimits import DEFAULT_DEADLINE_SECONDS, DEFAULT_MAX_CRL_BYTES


class Level(StrEnum):
    FAIL = "fail"
    WARN = "warn"
    INFORM = "inform"
    IGNORE = "ignore"


class Check(StrEnum):
    """Every policy-controlled check. Values are the keys used in policy files."""

    REVOCATION_AVAILABLE = "revocation_available"  # fail = require revocation data (TRY_LATER); warn = soft-fail
    KEY_USAGE = "key_usage"  # signer lacks digitalSignature/nonRepudiation
    WEAK_ALGORITHM = "weak_algorithm"  # an algorithm the dated rules call weak at validation time
    OCSP_NONCE = "ocsp_nonce"  # OCSP response did not echo our nonce
    NON_CONFORMANT_FORMAT = "non_conformant_format"  # tolerated real-world variants (edXML §1.4)
    UNCOVERED_PARTS = "uncovered_parts"  # parts of the document outside every signature
    SIGNING_TIME_IN_VALIDITY = "signing_time_in_validity"  # claimed signing time outside cert validity
    TIMESTAMP_INVALID = "timestamp_invalid"  # an embedded timestamp does not validate
    # The signer's own certificate is a trust anchor ("pinned"): its validity period and revocation are
    # still checked; only an explicit warn/inform/ignore here turns those findings off.
    PINNED_SIGNER = "pinned_signer"


DEFAULT_LEVELS: dict[Check, Level] = {
    Check.REVOCATION_AVAILABLE: Level.FAIL,
    Check.KEY_USAGE: Level.FAIL,
    Check.WEAK_ALGORITHM: Level.WARN,
    Check.OCSP_NONCE: Level.WARN,
    Check.NON_CONFORMANT_FORMAT: Level.WARN,
    Check.UNCOVERED_PARTS: Level.WARN,
    Check.SIGNING_TIME_IN_VALIDITY: Level.WARN,
    Check.TIMESTAMP_INVALID: Level.FAIL,
    Check.PINNED_SIGNER: Level.FAIL,
}


@dataclass(frozen=True)
class AlgorithmRule:
    """One algorithm: acceptable until ``weak_after`` (exclusive), keys at least ``min_key_size`` bits."""

    name: str  # lower-case family or digest: "sha1", "md5", "rsa", "ecdsa", "dsa"
    weak_after: date | None = None
    min_key_size: int | None = None

    def is_weak(self, at: datetime, key_size: int | None = None) -> bool:
        if self.weak_after is not None and at.date() >= self.weak_after:
            return True
        return self.min_key_size is not None and key_size is not None and key_size < self.min_key_size


DEFAULT_ALGORITHMS: tuple[AlgorithmRule, ...] = (
    AlgorithmRule("md5", weak_after=date(2005, 1, 1)),
    AlgorithmRule("sha1", weak_after=date(2019, 1, 1)),
    AlgorithmRule("rsa", min_key_size=2048),
    AlgorithmRule("dsa", min_key_size=2048),
    AlgorithmRule("ecdsa", min_key_size=256),
)


@dataclass(frozen=True)
class PathValidation:
    """The RFC 5280 §6.1.1 inputs of path validation, so the standard path-validation suites (e.g. NIST
    PKITS) can be run and a province can require its certificate policy. Defaults are RFC 5280's own:
    any policy, nothing inhibited, no explicit policy required."""

    initial_policy_set: frozenset[str] = frozenset({"any_policy"})  # dotted OIDs, or "any_policy"
    explicit_policy_required: bool = False  # initial-explicit-policy
    policy_mapping_inhibited: bool = False  # initial-policy-mapping-inhibit
    any_policy_inhibited: bool = False  # initial-any-policy-inhibit

    @property
    def is_default(self) -> bool:
        return self == PathValidation()

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> PathValidation:
        allowed = {"initial_policy_set", "explicit_policy_required", "policy_mapping_inhibited",
                   "any_policy_inhibited"}
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown path_validation keys: {sorted(unknown)}")
        flags = {}
        for key in allowed - {"initial_policy_set"}:
            value = data.get(key, False)
            if not isinstance(value, bool):
                raise ValueError(f"path_validation.{key} must be true or false, not {value!r}")
            flags[key] = value
        raw = data.get("initial_policy_set", ["any_policy"])
        if isinstance(raw, str) or not isinstance(raw, list) or not raw:
            raise ValueError("path_validation.initial_policy_set must be a non-empty list of OIDs")
        policies = frozenset("any_policy" if str(p) in {"any_policy", "anyPolicy", "2.5.29.32.0"} else str(p)
                             for p in raw)
        return cls(initial_policy_set=policies, **flags)


@dataclass(frozen=True)
class Policy:
    name: str = "lgsp-default"
    version: str = "1"
    levels: dict[Check, Level] = field(default_factory=lambda: dict(DEFAULT_LEVELS))
    algorithms: tuple[AlgorithmRule, ...] = DEFAULT_ALGORITHMS
    revocation_timeout: float = 5.0
    #: All CRL/OCSP fetching of one verification together (signing/revlimits.py); then TRY_LATER.
    revocation_deadline: float = DEFAULT_DEADLINE_SECONDS
    #: The largest CRL accepted, fetched or carried by the document (a named failure above it).
    max_crl_bytes: int = DEFAULT_MAX_CRL_BYTES
    chain_cache_seconds: float = 300.0
    max_document_bytes: int = 64 * 1024 * 1024
    path_validation: PathValidation = PathValidation()
    #: PDF: bytes all stream decoders together may produce for one document, over all its revisions (a small
    #: file of stacked Flate streams inflates a thousandfold). None: ``max_document_bytes``.
    max_decoded_bytes: int | None = None

    @property
    def decode_budget(self) -> int:
        """The PDF decode budget in force (``max_decoded_bytes``, default ``max_document_bytes``)."""
        return self.max_decoded_bytes if self.max_decoded_bytes is not None else self.max_document_bytes

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"

    def level(self, check: Check) -> Level:
        return self.levels.get(check, DEFAULT_LEVELS[check])

    def with_levels(self, **levels: str) -> Policy:
        """A copy with some checks changed, e.g. ``policy.with_levels(revocation_available="warn")``."""
        merged = dict(self.levels)
        for key, value in levels.items():
            merged[Check(key)] = Level(value)
        return replace(self, levels=merged)

    def is_weak(self, name: str, at: datetime | None = None, key_size: int | None = None) -> bool:
        """Names are lower-case and hyphen-joined ("rsa-sha1", "sha256", "ecdsa"); any weak part makes all weak.

        Rules are dated by day, so verdicts are memoised per (name, day, key size): this runs per signature.
        """
        day = (at or datetime.now(UTC)).date()
        key = (name, day, key_size)
        memo: dict[tuple[str, date, int | None], bool] = self.__dict__.setdefault("_weak_memo", {})
        verdict = memo.get(key)
        if verdict is None:
            when = datetime(day.year, day.month, day.day, tzinfo=UTC)
            parts = name.lower().split("-")
            verdict = any(rule.name in parts and rule.is_weak(when, key_size) for rule in self.algorithms)
            if len(memo) > 4096:
                memo.clear()
            memo[key] = verdict
        return verdict

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> Policy:
        """Build from a parsed policy file; unknown keys are an error so typos do not weaken a policy."""
        allowed = {"name", "version", "checks", "algorithms", "revocation", "chain_cache_seconds",
                   "max_document_bytes", "max_decoded_bytes", "path_validation"}
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown policy keys: {sorted(unknown)}")
        levels = dict(DEFAULT_LEVELS)
        for key, value in (data.get("checks") or {}).items():
            try:
                levels[Check(key)] = Level(str(value).lower())
            except ValueError as exc:
                raise ValueError(f"bad policy check {key}={value!r}: {exc}") from exc
        algorithms = DEFAULT_ALGORITHMS
        if "algorithms" in data:
            algorithms = tuple(_rule(item) for item in data["algorithms"])
        revocation = _revocation_settings(data.get("revocation") or {})
        return cls(
            name=str(data.get("name", "custom")),
            version=str(data.get("version", "1")),
            levels=levels,
            algorithms=algorithms,
            revocation_timeout=float(revocation.get("timeout_seconds", 5.0)),
            revocation_deadline=float(revocation.get("deadline_seconds", DEFAULT_DEADLINE_SECONDS)),
            max_crl_bytes=int(revocation.get("max_crl_bytes", DEFAULT_MAX_CRL_BYTES)),
            chain_cache_seconds=float(data.get("chain_cache_seconds", 300.0)),
            max_document_bytes=int(data.get("max_document_bytes", 64 * 1024 * 1024)),
            max_decoded_bytes=int(data["max_decoded_bytes"]) if data.get("max_decoded_bytes") is not None else None,
            path_validation=PathValidation.from_mapping(data.get("path_validation") or {}),
        )

    @classmethod
    def from_file(cls, path: str | Path) -> Policy:
        """Load a YAML or JSON policy file (JSON is YAML, so one loader serves both)."""
        import yaml  # only with a policy file: `lgsp verify` without one does not pay for it

        text = Path(path).read_text(encoding="utf-8")
        data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
        if not isinstance(data, dict):
            raise ValueError(f"policy file {path} must contain a mapping")
        return cls.from_mapping(data)


def _revocation_settings(data: Any) -> dict[str, Any]:
    """The ``revocation`` mapping, checked: a typo must not silently leave a time limit at its default."""
    if not isinstance(data, dict):
        raise ValueError("revocation must be a mapping (timeout_seconds, deadline_seconds, max_crl_bytes)")
    unknown = set(data) - {"timeout_seconds", "deadline_seconds", "max_crl_bytes"}
    if unknown:
        raise ValueError(f"unknown revocation keys: {sorted(unknown)}")
    for key, value in data.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ValueError(f"revocation.{key} must be a positive number, not {value!r}")
    return data


def _rule(item: dict[str, Any]) -> AlgorithmRule:
    weak_after = item.get("weak_after")
    if isinstance(weak_after, str):
        weak_after = date.fromisoformat(weak_after)
    return AlgorithmRule(
        name=str(item["name"]).lower(),
        weak_after=weak_after,
        min_key_size=item.get("min_key_size"),
    )


def strict_policy() -> Policy:
    """A policy for services that must refuse SHA-1 and anything non-conformant."""
    return Policy(name="lgsp-strict", version="1").with_levels(
        weak_algorithm="fail", non_conformant_format="fail", ocsp_nonce="fail", uncovered_parts="warn"
    )
