"""JSON text from outside, parsed so that every malformed body fails in one way.

Why: ``json.loads`` can fail in more ways than :class:`json.JSONDecodeError`, and each one a handler did
not expect became a 500:
- ``UnicodeDecodeError``, for bytes that are not UTF-8, UTF-16 or UTF-32;
- ``ValueError``, for an integer past Python's 4,300-digit conversion limit;
- ``RecursionError``, for nesting deeper than the interpreter's stack.

One of its successes is also a trap: a lone UTF-16 surrogate. It can arrive as an escape (``"\\ud800"``)
or as its three raw bytes (``ED A0 80``, which ``json.loads`` decodes with ``surrogatepass``). Either way
it becomes a Python ``str`` that no UTF-8 store, file or response can hold, so the failure came later,
half-way through a write.

:func:`loads` refuses all of these with :class:`JsonTextError`. That is a ``JSONDecodeError``, so code
(and FastAPI) that handles malformed JSON handles these too. This module imports nothing of ours: the
adapters may use it (``.importlinter``).
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["JsonTextError", "check_surrogates", "loads", "refuse_lone_surrogates"]


class JsonTextError(json.JSONDecodeError):
    """The text is not JSON that UTF-8 can carry; ``msg`` says why."""

    def __init__(self, msg: str) -> None:
        super().__init__(msg, "", 0)

    def __str__(self) -> str:  # JSONDecodeError's own adds "line 1 column 1 (char 0)", which would mislead
        return self.msg


_ESCAPE_BYTES = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_RAW_SURROGATE_BYTES = re.compile(rb"\xed[\xa0-\xbf]")  # UTF-8's pattern for U+D800-U+DFFF (CESU)
_ESCAPE_OR_SURROGATE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}|[\ud800-\udfff]")


def loads(text: bytes | bytearray | str, *, lone_surrogates: bool = False, **options: Any) -> Any:
    """``json.loads(text, **options)``, raising only :class:`JsonTextError` for input it cannot use.

    ``lone_surrogates=True`` lets lone surrogates written as escapes (``"\\ud800"``) through, for a caller that
    checks every string itself and can then name the field that holds one (a 422 instead of a 400 for the
    whole body). Raw surrogate bytes are still refused: that is not UTF-8 (or UTF-16/32) text at all."""
    try:
        if lone_surrogates and not isinstance(text, str):
            text = bytes(text).decode(json.detect_encoding(text))  # strict, unlike json.loads' own decoding
        data = json.loads(text, **options)
    except JsonTextError:
        raise
    except RecursionError:
        raise JsonTextError("the JSON is nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError and the integer digit limit alike
        raise JsonTextError(str(exc)) from None
    if not lone_surrogates:
        check_surrogates(text, data)
    return data


def check_surrogates(text: bytes | bytearray | str, data: Any) -> None:
    """Raise :class:`JsonTextError` if ``data`` (what ``json.loads(text)`` gave) holds a lone surrogate.

    For callers that parse with ``json.loads`` themselves.
    """
    if _may_hold_surrogate(text):
        refuse_lone_surrogates(data)


def _may_hold_surrogate(text: bytes | bytearray | str) -> bool:
    """Whether the parsed value could hold a surrogate. A cheap scan, so the walk is skipped in nearly
    every case; it errs towards walking."""
    if isinstance(text, str):
        return bool(_ESCAPE_OR_SURROGATE.search(text))
    if b"\\u" in text and _ESCAPE_BYTES.search(text):
        return True
    if text.isascii():
        return False
    # raw surrogate bytes in UTF-8, or UTF-16/32 text, whose lone surrogate code units json.loads also passes
    return bool(_RAW_SURROGATE_BYTES.search(text)) or json.detect_encoding(text) != "utf-8"


def refuse_lone_surrogates(value: Any) -> None:
    """Raise :class:`JsonTextError` if a key or string in ``value`` holds a lone surrogate.

    A pair written as two escapes decodes to one character, and that is fine.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise JsonTextError(f"lone UTF-16 surrogate {item[exc.start]!r} in {item[:40]!r}: "
                                    "no UTF-8 text can hold it") from None
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
