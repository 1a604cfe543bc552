"""TEST DOUBLE: a small Lucene query parser and matcher for the Solr stand-in.

Understands what CKAN and ckanext-dcat send: ``*:*``, ``field:value``, ``field:"phrase"``,
``field:(a OR b)``, ``field:[lo TO hi]`` / ``{lo TO hi}`` (with ``*`` and ``NOW[+-N UNIT]``), ``field:*``,
wildcards ``*``/``?`` in terms, ``+``/``-``/``!`` prefixes, ``AND``/``OR``/``NOT``, parentheses, backslash
escapes and a leading ``{!...}`` local-params block (ignored). Bare words search the default fields.
"""

from __future__ import annotations

import fnmatch
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

MUST, SHOULD, MUST_NOT = "must", "should", "must_not"

# Fields CKAN's schema.xml declares as analysed text (everything else is an exact "string" field).
TEXT_FIELDS = {
    "text", "title", "notes", "author", "maintainer", "res_name", "res_description", "urls",
    "ckan_url", "download_url", "title_ngram",
}
TEXT_PREFIXES = ("extras_",)


class QuerySyntaxError(ValueError):
    """The query is outside the syntax this stand-in understands (Solr would say SyntaxError)."""


def fold(text: str) -> str:
    """Lowercase and strip accents, so ``Cần Thơ`` matches ``can tho`` (like ASCIIFoldingFilter)."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


def tokens(text: str) -> list[str]:
    return re.findall(r"[^\W_]+", fold(text))


def is_text_field(name: str) -> bool:
    return name in TEXT_FIELDS or name.startswith(TEXT_PREFIXES)


def values_of(doc: dict[str, Any], name: str) -> list[Any]:
    value = doc.get(name)
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


# ---- the query tree ---------------------------------------------------------------------------------


class Node:
    """A query node: ``score(doc, default_fields)`` is 0 for no match, > 0 for a match."""

    def score(self, doc: dict[str, Any], default_fields: Sequence[str]) -> float:
        raise NotImplementedError


@dataclass
class MatchAll(Node):
    def score(self, doc: dict[str, Any], default_fields: Sequence[str]) -> float:
        return 1.0


@dataclass
class Term(Node):
    """A term, phrase or wildcard against one field (or the default fields when ``field`` is None)."""

    field: str | None
    text: str
    phrase: bool = False

    def score(self, doc: dict[str, Any], default_fields: Sequence[str]) -> float:
        names = [self.field] if self.field else list(default_fields)
        return float(sum(1 for name in names if self._matches_field(doc, name)))

    def _matches_field(self, doc: dict[str, Any], name: str) -> bool:
        wildcard = not self.phrase and ("*" in self.text or "?" in self.text)
        if name == "text":
            haystack = text_corpus(doc)
        else:
            haystack = [str(v) for v in values_of(doc, name)]
        if self.text == "*" and not self.phrase:
            return bool(haystack)
        if name == "text" or is_text_field(name):
            wanted = tokens(self.text)
            if wildcard:
                pattern = fold(self.text)
                return any(fnmatch.fnmatchcase(tok, pattern) for v in haystack for tok in tokens(v))
            return any(_contains_sequence(tokens(v), wanted) for v in haystack) if wanted else False
        if wildcard:
            return any(fnmatch.fnmatchcase(v, self.text) for v in haystack)
        return any(v == self.text for v in haystack) or any(
            _bool_text(v) == self.text.lower() for v in values_of(doc, name) if isinstance(v, bool)
        )


@dataclass
class Range(Node):
    field: str
    low: str
    high: str
    include_low: bool
    include_high: bool

    def score(self, doc: dict[str, Any], default_fields: Sequence[str]) -> float:
        low, high = _range_value(self.low), _range_value(self.high)
        for value in values_of(doc, self.field):
            candidate = _comparable(value)
            if low is not None and not _compare_ok(candidate, low, self.include_low, lower=True):
                continue
            if high is not None and not _compare_ok(candidate, high, self.include_high, lower=False):
                continue
            return 1.0
        return 0.0


@dataclass
class BooleanQuery(Node):
    clauses: list[tuple[str, Node]] = field(default_factory=list)

    def score(self, doc: dict[str, Any], default_fields: Sequence[str]) -> float:
        total = 0.0
        has_must = any(occur == MUST for occur, _ in self.clauses)
        should_hit = False
        for occur, node in self.clauses:
            s = node.score(doc, default_fields)
            if occur == MUST_NOT:
                if s > 0:
                    return 0.0
            elif occur == MUST:
                if s <= 0:
                    return 0.0
                total += s
            else:
                if s > 0:
                    should_hit = True
                    total += s
        if not has_must and not should_hit:
            # A purely negative query ("-state:deleted") matches everything not excluded.
            if all(occur == MUST_NOT for occur, _ in self.clauses) and self.clauses:
                return 1.0
            return 0.0
        return total or 1.0


def _contains_sequence(haystack: list[str], needle: list[str]) -> bool:
    n = len(needle)
    return any(haystack[i : i + n] == needle for i in range(len(haystack) - n + 1))


def _bool_text(value: bool) -> str:
    return "true" if value else "false"


def text_corpus(doc: dict[str, Any]) -> list[str]:
    """What CKAN's schema copies into the catch-all ``text`` field (copyField rules, roughly)."""
    out: list[str] = []
    for name, value in doc.items():
        if name in {"data_dict", "validated_data_dict", "index_id", "site_id", "permission_labels"}:
            continue
        if name in {"name", "title", "notes", "tags", "groups", "organization", "text", "license",
                    "author", "maintainer", "res_name", "res_description", "urls"} \
                or name.startswith(("extras_", "res_")):
            out.extend(str(v) for v in (value if isinstance(value, list) else [value]))
    return out


_NOW_RE = re.compile(r"^NOW(?:([+-])(\d+)(YEAR|MONTH|DAY|HOUR|MINUTE|SECOND)S?)?(?:/(DAY|HOUR))?$")


def _range_value(raw: str) -> Any:
    if raw == "*":
        return None
    match = _NOW_RE.match(raw)
    if match:
        now = datetime.now(UTC)
        sign, amount, unit, _round = match.groups()
        if sign:
            days = {"YEAR": 365, "MONTH": 30, "DAY": 1}.get(unit, 0) * int(amount)
            seconds = {"HOUR": 3600, "MINUTE": 60, "SECOND": 1}.get(unit, 0) * int(amount)
            delta = timedelta(days=days, seconds=seconds)
            now = now + delta if sign == "+" else now - delta
        return now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return _comparable(raw)


def _comparable(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = str(value)
    try:
        return float(text)
    except ValueError:
        return text


def _compare_ok(candidate: Any, bound: Any, inclusive: bool, *, lower: bool) -> bool:
    if type(candidate) is not type(bound):
        candidate, bound = str(candidate), str(bound)
    if lower:
        return bool(candidate >= bound if inclusive else candidate > bound)
    return bool(candidate <= bound if inclusive else candidate < bound)


# ---- the parser -------------------------------------------------------------------------------------

_SPECIAL = set('+-!():^[]{}"~*?\\/ \t\n')


class _Parser:
    def __init__(self, text: str, default_op: str) -> None:
        self.text = text
        self.pos = 0
        self.default_occur = MUST if default_op.upper() == "AND" else SHOULD

    def parse(self) -> Node:
        node = self._query(field_name=None, closing=None)
        self._skip_ws()
        if self.pos != len(self.text):
            raise QuerySyntaxError(f"unexpected {self.text[self.pos:]!r} at {self.pos}")
        return node

    def _skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def _peek_word(self, word: str) -> bool:
        end = self.pos + len(word)
        return self.text[self.pos:end] == word and (end == len(self.text) or self.text[end] in " \t\n()")

    def _query(self, field_name: str | None, closing: str | None) -> Node:
        clauses: list[tuple[str, Node]] = []
        pending_conj: str | None = None
        while True:
            self._skip_ws()
            if self.pos >= len(self.text):
                if closing:
                    raise QuerySyntaxError(f"missing {closing!r}")
                break
            if closing and self.text[self.pos] == closing:
                self.pos += 1
                break
            if self._peek_word("AND") or self._peek_word("&&"):
                self.pos += 3 if self.text[self.pos] == "A" else 2
                pending_conj = "AND"
                if clauses and clauses[-1][0] != MUST_NOT:
                    clauses[-1] = (MUST, clauses[-1][1])
                continue
            if self._peek_word("OR") or self._peek_word("||"):
                self.pos += 2
                pending_conj = "OR"
                if clauses and clauses[-1][0] == MUST and self.default_occur == MUST:
                    clauses[-1] = (SHOULD, clauses[-1][1])
                continue
            occur = self.default_occur
            if pending_conj is not None:
                occur = MUST if pending_conj == "AND" else SHOULD
            if self._peek_word("NOT"):
                self.pos += 3
                occur = MUST_NOT
            else:
                ch = self.text[self.pos]
                if ch == "+":
                    occur = MUST
                    self.pos += 1
                elif ch in "-!":
                    occur = MUST_NOT
                    self.pos += 1
            clauses.append((occur, self._clause(field_name)))
            pending_conj = None
        if len(clauses) == 1 and clauses[0][0] != MUST_NOT:
            return clauses[0][1]
        return BooleanQuery(clauses)

    def _clause(self, field_name: str | None) -> Node:
        self._skip_ws()
        if self.text.startswith("{!", self.pos):
            end = self.text.find("}", self.pos)
            if end < 0:
                raise QuerySyntaxError("unterminated local params")
            self.pos = end + 1
            return self._clause(field_name)
        ch = self.text[self.pos]
        if ch == "(":
            self.pos += 1
            return self._query(field_name, ")")
        if ch == "*" and self.text.startswith("*:*", self.pos):
            self.pos += 3
            return MatchAll()
        if ch in "[{":
            if field_name is None:
                raise QuerySyntaxError("range without a field")
            return self._range(field_name)
        if ch == '"':
            return Term(field_name, self._quoted(), phrase=True)
        word = self._word()
        if self.pos < len(self.text) and self.text[self.pos] == ":" and field_name is None:
            self.pos += 1
            if self.pos >= len(self.text):
                raise QuerySyntaxError(f"nothing after {word}:")
            return self._clause(word)
        self._skip_boost()
        return Term(field_name, word)

    def _skip_boost(self) -> None:
        if self.pos < len(self.text) and self.text[self.pos] in "^~":
            self.pos += 1
            while self.pos < len(self.text) and (self.text[self.pos].isdigit() or self.text[self.pos] == "."):
                self.pos += 1

    def _word(self) -> str:
        out: list[str] = []
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch == "\\" and self.pos + 1 < len(self.text):
                out.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            if ch in _SPECIAL and ch not in "*?-/":
                break
            if ch == "-" and not out:
                break
            out.append(ch)
            self.pos += 1
        if not out:
            raise QuerySyntaxError(f"expected a term at {self.pos} in {self.text!r}")
        return "".join(out)

    def _quoted(self) -> str:
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch == "\\" and self.pos + 1 < len(self.text):
                out.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            if ch == '"':
                self.pos += 1
                self._skip_boost()
                return "".join(out)
            out.append(ch)
            self.pos += 1
        raise QuerySyntaxError("unterminated phrase")

    def _range(self, field_name: str) -> Node:
        include_low = self.text[self.pos] == "["
        self.pos += 1
        close = min((i for i in (self.text.find("]", self.pos), self.text.find("}", self.pos)) if i >= 0),
                    default=-1)
        if close < 0:
            raise QuerySyntaxError("unterminated range")
        body = self.text[self.pos:close]
        include_high = self.text[close] == "]"
        self.pos = close + 1
        parts = re.split(r"\s+TO\s+", body.strip())
        if len(parts) != 2:
            raise QuerySyntaxError(f"bad range {body!r}")
        low, high = (p.strip().strip('"').replace("\\", "") for p in parts)
        return Range(field_name, low, high, include_low, include_high)


def parse_query(text: str, default_op: str = "OR") -> Node:
    """Parse a Lucene query; ``default_op`` is Solr's ``q.op`` (what adjacent clauses mean)."""
    text = text.strip()
    if not text:
        return MatchAll()
    return _Parser(text, default_op).parse()


def dismax(text: str) -> Node:
    """A dismax user query: every bare word must match one of the ``qf`` fields (mm ~ all)."""
    words = [w for w in re.split(r"\s+", text.strip()) if w]
    if not words:
        return MatchAll()
    return BooleanQuery([(MUST, Term(None, w.strip('"'), phrase=w.startswith('"'))) for w in words])


ScoreFn = Callable[[dict[str, Any]], float]
