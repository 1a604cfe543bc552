"""TEST DOUBLE: one in-memory Solr core -- documents keyed by ``index_id``, pending vs committed updates.

Like Solr, added or deleted documents become visible only after a commit (``commit=true`` on the
update URL, ``softCommit``/``commitWithin``, or a ``<commit/>`` message), so tests catch code that
forgets to commit.
"""

from __future__ import annotations

import json
import threading
from typing import Any
from xml.etree import ElementTree

from .query import MatchAll, Node, QuerySyntaxError, dismax, parse_query, values_of

UNIQUE_KEY = "index_id"
FALLBACK_KEY = "id"
DEFAULT_QF = "name^4 title^4 tags^2 groups^2 text"


class SolrError(Exception):
    """A request Solr would reject; ``status`` is the HTTP status the server answers with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _first(params: dict[str, list[str]], name: str, default: str | None = None) -> str | None:
    values = params.get(name)
    return values[0] if values else default


class SolrCore:
    """Documents of one core plus the updates not committed yet."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._docs: dict[str, dict[str, Any]] = {}
        self._pending: list[tuple[str, Any]] = []
        self._lock = threading.Lock()

    # ---- updates ------------------------------------------------------------------------------------
    def update(self, body: bytes, content_type: str, params: dict[str, list[str]]) -> None:
        """Apply an update request (JSON or XML body) and commit if the URL asks for it."""
        ops = self._parse_update(body, content_type)
        with self._lock:
            self._pending.extend(ops)
            wants_commit = any(op == "commit" for op, _ in ops) or any(
                _first(params, name, "false") == "true" for name in ("commit", "softCommit")
            ) or "commitWithin" in params
            if wants_commit:
                self._apply_pending()

    def _parse_update(self, body: bytes, content_type: str) -> list[tuple[str, Any]]:
        text = body.decode("utf-8").strip()
        if not text:
            return []
        if "json" in content_type or text[:1] in "[{":
            return self._parse_json_update(text)
        return self._parse_xml_update(text)

    def _parse_json_update(self, text: str) -> list[tuple[str, Any]]:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SolrError(f"invalid JSON update: {exc}") from exc
        if isinstance(data, list):
            return [("add", doc) for doc in data]
        ops: list[tuple[str, Any]] = []
        for key, value in data.items():
            if key == "add":
                ops.append(("add", value.get("doc", value)))
            elif key == "delete":
                if isinstance(value, dict) and "query" in value:
                    ops.append(("delete_query", value["query"]))
                else:
                    one = value.get("id") if isinstance(value, dict) else value
                    ids = value if isinstance(value, list) else [one]
                    ops.extend(("delete_id", str(i)) for i in ids)
            elif key == "commit":
                ops.append(("commit", None))
        return ops

    def _parse_xml_update(self, text: str) -> list[tuple[str, Any]]:
        try:
            root = ElementTree.fromstring(text)  # test double; input from local CKAN
        except ElementTree.ParseError as exc:
            raise SolrError(f"invalid XML update: {exc}") from exc
        if root.tag in {"commit", "optimize"}:
            return [("commit", None)]
        ops: list[tuple[str, Any]] = []
        if root.tag == "add":
            for doc_el in root.findall("doc"):
                doc: dict[str, Any] = {}
                for field_el in doc_el.findall("field"):
                    name, value = field_el.get("name", ""), field_el.text or ""
                    if name in doc:
                        doc[name] = [*values_of(doc, name), value]
                    else:
                        doc[name] = value
                ops.append(("add", doc))
        elif root.tag == "delete":
            ops.extend(("delete_id", el.text or "") for el in root.findall("id"))
            ops.extend(("delete_query", el.text or "") for el in root.findall("query"))
        else:
            raise SolrError(f"unknown update command <{root.tag}>")
        return ops

    def _apply_pending(self) -> None:
        for op, arg in self._pending:
            if op == "add":
                key = arg.get(UNIQUE_KEY, arg.get(FALLBACK_KEY))
                if key is None:
                    raise SolrError(f"Document is missing mandatory uniqueKey field: {UNIQUE_KEY}")
                self._docs[str(key)] = dict(arg)
            elif op == "delete_id":
                self._docs.pop(arg, None)
            elif op == "delete_query":
                node = self._parse(arg, "OR")
                for key in [k for k, d in self._docs.items() if node.score(d, ["text"]) > 0]:
                    del self._docs[key]
        self._pending.clear()

    # ---- queries ------------------------------------------------------------------------------------
    @staticmethod
    def _parse(text: str, default_op: str) -> Node:
        try:
            return parse_query(text, default_op)
        except QuerySyntaxError as exc:
            raise SolrError(f"org.apache.solr.search.SyntaxError: Cannot parse '{text}': {exc}") from exc

    def select(self, params: dict[str, list[str]]) -> dict[str, Any]:
        """Answer ``/select`` the way Solr's JSON response writer does (flat facet lists)."""
        q = _first(params, "q", "*:*") or "*:*"
        q_op = _first(params, "q.op", "OR") or "OR"
        def_type = _first(params, "defType", "lucene")
        if def_type in {"dismax", "edismax"} and q != "*:*":
            main: Node = dismax(q)
            qf = _first(params, "qf", DEFAULT_QF) or DEFAULT_QF
            default_fields = [f.split("^")[0] for f in qf.split()]
        else:
            main = MatchAll() if q == "*:*" else self._parse(q, q_op)
            default_fields = [_first(params, "df", "text") or "text"]
        filters = [self._parse(fq, q_op) for fq in params.get("fq", []) if fq.strip()]

        with self._lock:
            docs = list(self._docs.values())
        hits: list[tuple[float, dict[str, Any]]] = []
        for doc in docs:
            score = main.score(doc, default_fields)
            if score > 0 and all(f.score(doc, ["text"]) > 0 for f in filters):
                hits.append((score, doc))

        hits = self._sort(hits, _first(params, "sort", "score desc") or "score desc")
        start = int(_first(params, "start", "0") or 0)
        rows = int(_first(params, "rows", "10") or 10)
        page = hits[start : start + rows] if rows >= 0 else hits[start:]
        fields = self._fields(_first(params, "fl", "*") or "*")
        result: dict[str, Any] = {
            "responseHeader": {"status": 0, "QTime": 0, "params": {k: v[-1] for k, v in params.items()}},
            "response": {
                "numFound": len(hits),
                "start": start,
                "docs": [self._project(doc, score, fields) for score, doc in page],
            },
        }
        if (_first(params, "facet", "false") or "false").lower() == "true":
            result["facet_counts"] = self._facets(params, [doc for _, doc in hits])
        return result

    @staticmethod
    def _sort(hits: list[tuple[float, dict[str, Any]]], sort: str) -> list[tuple[float, dict[str, Any]]]:
        keys: list[tuple[str, bool]] = []
        for part in sort.split(","):
            bits = part.split()
            if not bits:
                continue
            if len(bits) != 2 or bits[1].lower() not in {"asc", "desc"}:
                raise SolrError(f"Can't determine a Sort Order (asc or desc) in sort spec '{part.strip()}'")
            keys.append((bits[0], bits[1].lower() == "desc"))
        ordered = list(hits)
        for name, descending in reversed(keys):  # stable sorts, least significant key first
            def key(item: tuple[float, dict[str, Any]], name: str = name) -> tuple[int, Any]:
                if name == "score":
                    return (0, item[0])
                values = values_of(item[1], name)
                if not values:
                    return (1, "")
                value = values[0]
                return (0, value if isinstance(value, int | float) else str(value))

            present = [h for h in ordered if key(h)[0] == 0]
            missing = [h for h in ordered if key(h)[0] == 1]
            present.sort(key=lambda h: key(h)[1], reverse=descending)
            ordered = present + missing  # Solr puts documents lacking the sort field last
        return ordered

    @staticmethod
    def _fields(fl: str) -> set[str] | None:
        names = {n for n in fl.replace(",", " ").split() if n}
        return None if "*" in names else names

    @staticmethod
    def _project(doc: dict[str, Any], score: float, fields: set[str] | None) -> dict[str, Any]:
        out = dict(doc) if fields is None else {k: v for k, v in doc.items() if k in fields}
        if fields is not None and "score" in fields:
            out["score"] = score
        return out

    @staticmethod
    def _facets(params: dict[str, list[str]], docs: list[dict[str, Any]]) -> dict[str, Any]:
        limit = int(_first(params, "facet.limit", "100") or 100)
        mincount = int(_first(params, "facet.mincount", "1") or 1)
        fields: dict[str, list[Any]] = {}
        for name in params.get("facet.field", []):
            name = name.strip('"')
            counts: dict[str, int] = {}
            for doc in docs:
                for value in set(map(str, values_of(doc, name))):
                    counts[value] = counts.get(value, 0) + 1
            kept = (kv for kv in counts.items() if kv[1] >= mincount)
            ranked = sorted(kept, key=lambda kv: (-kv[1], kv[0]))
            if limit >= 0:
                ranked = ranked[:limit]
            fields[name] = [x for kv in ranked for x in kv]
        return {"facet_queries": {}, "facet_fields": fields, "facet_ranges": {}, "facet_intervals": {},
                "facet_heatmaps": {}}

    def count(self) -> int:
        with self._lock:
            return len(self._docs)
