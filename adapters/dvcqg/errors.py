"""Typed failures of the DVCQG adapter.

Every error says whether trying again later can help (``retryable``). The durable outbox uses that one
bit: retryable → back off and retry (the portal is down, slow or overloaded), not retryable → dead-letter
for an operator (the data or the configuration is wrong, and resending the same message cannot fix it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class DvcqgError(Exception):
    """Base class; ``retryable`` tells the outbox whether to retry or dead-letter."""

    retryable: bool = False


class DvcqgUnavailableError(DvcqgError):
    """The portal could not be reached or answered 5xx/408/429, or the call timed out."""

    retryable = True

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class DvcqgProtocolError(DvcqgError):
    """The portal answered something that is not the §4.1 JSON envelope (HTML page, 4xx, garbage)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class DvcqgAuthenticationError(DvcqgError):
    """Login was refused: wrong username/password or agency; retrying with the same secrets cannot help."""


class DvcqgSessionError(DvcqgError):
    """The portal kept rejecting the session even after a fresh login; may be a portal hiccup."""

    retryable = True


class DvcqgServiceError(DvcqgError):
    """The portal answered with ``error_code`` ≠ "00" (§4.1)."""

    def __init__(self, service: str, error_code: str, message: str, *, retryable: bool = False) -> None:
        super().__init__(f"DVCQG {service} failed: error_code={error_code!r}: {message}")
        self.service = service
        self.error_code = error_code
        self.portal_message = message
        self.retryable = retryable


@dataclass(frozen=True)
class FieldProblem:
    """One invalid field: ``field`` is a path such as ``NgayHenTra`` or ``TaiLieuNop[0].TenTepDinhKem``."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class DossierValidationError(DvcqgError, ValueError):
    """A dossier or progress record breaks §4.3 (missing required field, bad date, bad code)."""

    def __init__(self, problems: Sequence[FieldProblem], *, record: str = "record") -> None:
        self.problems = tuple(problems)
        self.record = record
        super().__init__(f"invalid {record}: " + "; ".join(str(p) for p in self.problems))

    @property
    def fields(self) -> tuple[str, ...]:
        """The offending field paths, for problem+json ``errors`` and for tests."""
        return tuple(p.field for p in self.problems)


class StatusMappingError(DvcqgError, ValueError):
    """The local→DVCQG status mapping file itself is malformed (a configuration error)."""


class UnknownLocalStatusError(DvcqgError, LookupError):
    """The one-stop-shop system sent a local status the mapping does not know; never silently defaulted."""

    def __init__(self, local_status: str, sub_status: str | None, known: Sequence[str]) -> None:
        self.local_status = local_status
        self.sub_status = sub_status
        shown = local_status if sub_status is None else f"{local_status}/{sub_status}"
        super().__init__(
            f"unknown local status {shown!r}: add it to the DVCQG status mapping "
            f"(known: {', '.join(sorted(known)) or 'none'})"
        )
