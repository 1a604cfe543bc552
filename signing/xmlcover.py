"""What a caller may ask an XML signature to cover (``must_cover``): a small, safe subset of XPath.

``must_cover`` comes from the caller (``?must_cover=`` on ``POST /signatures/verify``, ``--must-cover``), and
an XPath 1.0 expression can cost as much as its author likes (``//*[count(//*) > 0]`` nested, unions of
thousands of paths), evaluated on documents of up to 50,000 elements. So only simple absolute location
paths are accepted, whose evaluation is one walk down the tree:

* ``/`` then steps separated by ``/`` (a ``//`` is allowed once, at the start: one descendant scan);
* each step a name test: ``name``, ``prefix:name``, ``*`` or ``prefix:*``, with at most one positional
  predicate ``[N]`` (1 <= N <= 99999);
* at most :data:`MAX_STEPS` steps and :data:`MAX_LENGTH` characters per expression, at most
  :data:`MAX_EXPRESSIONS` expressions per verification; a prefix must be one the verifier knows.

Anything else is refused before the document is looked at (:class:`MustCoverError`), which the HTTP
endpoint answers with a ``422`` problem naming ``must_cover`` and the CLI with a one-line usage error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

MAX_LENGTH = 512
MAX_STEPS = 32
MAX_EXPRESSIONS = 16

_NCNAME = r"[A-Za-z_][A-Za-z0-9_.\-]*"
_STEP = re.compile(rf"(?:(?P<prefix>{_NCNAME}):)?(?P<name>{_NCNAME}|\*)(?:\[(?P<pos>[1-9][0-9]{{0,4}})\])?")


class MustCoverError(ValueError):
    """A ``must_cover`` expression outside the accepted subset (the caller's request is wrong)."""


def check_must_cover(expressions: Sequence[str], namespaces: Mapping[str, str]) -> None:
    """Raise :class:`MustCoverError` unless every expression is in the safe subset (module docstring)."""
    if isinstance(expressions, str):
        raise MustCoverError("must_cover must be a list of paths, not one string")
    if len(expressions) > MAX_EXPRESSIONS:
        raise MustCoverError(f"must_cover: at most {MAX_EXPRESSIONS} paths, got {len(expressions)}")
    for expression in expressions:
        _check_one(expression, namespaces)


def _check_one(expression: str, namespaces: Mapping[str, str]) -> None:
    shown = expression[:60] + ("…" if len(expression) > 60 else "")
    if not isinstance(expression, str) or not expression:
        raise MustCoverError("must_cover: an empty path selects nothing")
    if len(expression) > MAX_LENGTH:
        raise MustCoverError(f"must_cover {shown!r}: longer than {MAX_LENGTH} characters")
    body = expression[2:] if expression.startswith("//") else expression[1:] if expression.startswith("/") else None
    if body is None:
        raise MustCoverError(f"must_cover {shown!r}: must be an absolute path starting with '/'")
    steps = body.split("/")
    if len(steps) > MAX_STEPS:
        raise MustCoverError(f"must_cover {shown!r}: more than {MAX_STEPS} steps")
    for step in steps:
        match = _STEP.fullmatch(step)
        if match is None:
            raise MustCoverError(
                f"must_cover {shown!r}: step {step[:40]!r} is not a name test (name, prefix:name, * or "
                "prefix:*, optionally with one [N]); only simple location paths are accepted")
        prefix = match.group("prefix")
        if prefix is not None and prefix not in namespaces:
            raise MustCoverError(f"must_cover {shown!r}: unknown namespace prefix {prefix!r} (known: "
                                 + ", ".join(sorted(namespaces)) + ")")
