"""Text a dossier event may not carry: characters no XML document can hold, NUL first among them.

Why: a one-stop-shop system posted ``"ChuHoSo": "Nguyễn\\u0000Văn A"`` (or U+000B, U+FFFE, a lone
``\\ud800``) and lgsp answered ``202``: the event was queued and pushed to DVCQG as it was, and the sender
was told nothing more. Such a character is never meant in dossier text (it is an encoder's bug); how the
portal treats it is not documented ([U]), and a refusal there would be a dead letter the sender sees only
if it polls; everywhere else lgsp's rule for text is the one of :data:`lgsp.safexml.NOT_XML_CHAR` (the
registry and the open-data catalogue refuse it, SOAP Faults replace it, PostgreSQL refuses NUL). So it is
refused at intake, as a 422 naming the field, before anything else reads the text (a lone surrogate quoted
in an error message would not even encode as UTF-8). Keys are checked as well as values: unknown fields are
kept and sent on (the portal's field list ends with "…"). Stored events are checked again at delivery
(:meth:`adapters.dvcqg.sync.DossierSyncService.check`), so one accepted before this rule dead-letters
with the same reason instead of reaching the portal.
"""

from __future__ import annotations

from typing import Any

from lgsp.safexml import non_xml_char

from .errors import FieldProblem

__all__ = ["text_problems"]

_WHY = "text no XML document can carry"
#: problems reported for one event at most: the sender fixes its encoder once, not field by field
MAX_PROBLEMS = 20


def _describe(char: str) -> str:
    return f"U+{ord(char):04X} (a control character, U+FFFE/U+FFFF or an unpaired surrogate: {_WHY})"


def text_problems(value: Any, path: str = "") -> list[FieldProblem]:
    """One :class:`FieldProblem` per string (key or value) in ``value`` holding such a character.

    Paths are written as :func:`adapters.dvcqg.models.field_problems` writes them (``dossier.TaiLieuNop[0].
    TenTepDinhKem``); a bad key is reported at its object's path, since the key cannot be quoted.
    """
    problems: list[FieldProblem] = []
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack and len(problems) < MAX_PROBLEMS:
        where, item = stack.pop()
        if isinstance(item, str):
            bad = non_xml_char(item)
            if bad is not None:
                problems.append(FieldProblem(where or "(event)", f"may not contain {_describe(bad)}"))
        elif isinstance(item, dict):
            for key, inner in reversed(list(item.items())):
                bad = non_xml_char(key) if isinstance(key, str) else None
                if bad is not None:
                    problems.append(FieldProblem(where or "(event)",
                                                 f"a field name in it holds {_describe(bad)}"))
                else:
                    stack.append((f"{where}.{key}" if where else str(key), inner))
        elif isinstance(item, list):
            stack.extend((f"{where}[{index}]", inner) for index, inner in reversed(list(enumerate(item))))
    return problems
