"""Turn any exception raised while verifying into a verdict: a verifier gives a reasoned answer for every input.

Parsers and crypto libraries signal malformed input in many ways (lxml ``DocumentInvalid`` and
``XMLSyntaxError``, asn1crypto ``ValueError``/``TypeError``, pyhanko ``PdfError``, ``IndexError`` on short
arrays, ...). Each of those means the *input* is not a well-formed signature: ``TOTAL_FAILED /
FORMAT_FAILURE`` with the library's reason. Anything else is a fault we cannot pin on the input, so the
honest verdict is ``INDETERMINATE / GENERIC`` — never a traceback, never a 500.
"""

from __future__ import annotations

import json

from .report import Indication, SignatureReport, SubIndication

# Built-in exception types that libraries raise on malformed structures.
_FORMAT_BUILTINS: tuple[type[BaseException], ...] = (
    ValueError, TypeError, KeyError, IndexError, AttributeError, UnicodeError, OverflowError, RecursionError,
    json.JSONDecodeError, EOFError, LookupError, AssertionError,
)
# Library base classes, matched by name so this module imports no heavy library.
_FORMAT_LIBRARY_BASES = frozenset({"LxmlError", "PdfError", "SignatureValidationError", "SignXMLException",
                                   "JoseError", "InvalidSignature", "UnsupportedAlgorithm"})


def is_format_error(exc: BaseException) -> bool:
    """True when ``exc`` says the input is malformed (as opposed to a fault of ours or the environment)."""
    if isinstance(exc, _FORMAT_BUILTINS):
        return True
    return any(cls.__name__ in _FORMAT_LIBRARY_BASES for cls in type(exc).__mro__)


def describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:500]


def verdict_for(exc: BaseException) -> tuple[Indication, SubIndication, str]:
    if is_format_error(exc):
        message = f"malformed signature or document: {describe(exc)}"
        return Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, message
    return Indication.INDETERMINATE, SubIndication.GENERIC, f"verification could not be completed: {describe(exc)}"


def fail_with(report: SignatureReport, exc: BaseException) -> SignatureReport:
    """Record ``exc`` on one signature's report (see module docstring for the mapping)."""
    indication, sub, message = verdict_for(exc)
    return report.fail(indication, sub, message)
