"""Rows seen column by column, each column extracted once and shared by every step of a run.

The scan, the compiled validation, the key check, de-identification and both writers all work on whole
columns (a ``map(dict.get)`` over the rows runs in C, and a column of repeated values is decided on its
distinct values). Before this each step pulled its own copies of the same columns out of 100k dicts;
now :class:`Columns` pulls each once.

:func:`distinct_safe` says when a column may be processed through its distinct values: only when every
cell is a ``str``/``int`` (exactly) or ``None``, because a set merges equal values whose text differs --
``1``, ``1.0`` and ``True``; ``0.0`` and ``-0.0`` -- and the steps care about the text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Set
from itertools import repeat
from typing import Any

Row = dict[str, Any]
_DISTINCT_SAFE = frozenset({str, int, type(None)})
_FLOATS = frozenset({float, type(None)})


class Columns:
    """Lazy, memoised columns of ``rows`` (a missing key reads as ``None``, like ``row.get``)."""

    def __init__(self, rows: list[Row]) -> None:
        self.rows = rows
        self._columns: dict[str, list[Any]] = {}
        self._types: dict[str, frozenset[type]] = {}
        self._distinct: dict[str, frozenset[Any]] = {}
        self._names: set[str] | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, name: str) -> list[Any]:
        column = self._columns.get(name)
        if column is None:
            column = self._columns[name] = list(map(dict.get, self.rows, repeat(name, len(self.rows))))
        return column

    def types(self, name: str) -> frozenset[type]:
        """The exact types of the column's cells (``NoneType`` included when a cell is missing)."""
        kinds = self._types.get(name)
        if kinds is None:
            kinds = self._types[name] = frozenset(map(type, self[name]))
        return kinds

    def distinct(self, name: str) -> frozenset[Any]:
        """The column's distinct values, made once per run: the scan, the compiled check and both
        writers each decide most columns on them, and a set of 100k cells costs milliseconds to build.
        Raises TypeError when a cell is unhashable, as ``set`` does."""
        values = self._distinct.get(name)
        if values is None:
            values = self._distinct[name] = frozenset(self[name])
        return values

    def exact_distinct(self, name: str) -> Set[Any] | None:
        """:func:`distinct_values` of the column, from the shared :meth:`distinct` set."""
        return distinct_values(self[name], self.types(name), lambda: self.distinct(name))

    def names(self) -> set[str]:
        """Every key that appears in any row."""
        if self._names is None:
            self._names = set().union(*self.rows) if self.rows else set()
        return self._names

    def put(self, name: str, column: list[Any]) -> None:
        """Store a derived column (e.g. a de-identified one) under ``name``."""
        self._columns[name] = column
        self._types.pop(name, None)
        self._distinct.pop(name, None)


def distinct_safe(kinds: Iterable[type]) -> bool:
    """Whether equal cells of these types always have the same text (so distinct values may decide)."""
    return _DISTINCT_SAFE.issuperset(kinds)


def distinct_values(column: list[Any], kinds: Iterable[type],
                    values: Callable[[], Set[Any]] | None = None) -> Set[Any] | None:
    """The column's distinct values when a function of the cell may be computed once per distinct value
    and looked up for every cell -- exact for distinct-safe types, and for a float column without zeros
    (``0.0`` and ``-0.0`` are equal but spelt apart; equal non-zero floats have one spelling, and a NaN
    is only ever equal to itself, so it is looked up by identity) -- else None. ``values``: where to get
    the set when it is needed (a shared one), instead of ``set(column)``."""
    kinds = frozenset(kinds)
    floats = kinds <= _FLOATS and float in kinds
    if distinct_safe(kinds) or floats:
        distinct = values() if values is not None else set(column)
        if not (floats and 0.0 in distinct):
            return distinct
    return None


def map_column(column: list[Any], kinds: Iterable[type], func: Callable[[Any], Any]) -> list[Any]:
    """``[func(v) for v in column]``, calling ``func`` once per distinct value when that is exact
    (:func:`distinct_values`)."""
    distinct = distinct_values(column, kinds)
    if distinct is None:
        return list(map(func, column))
    table = {value: func(value) for value in distinct}
    return list(map(table.__getitem__, column))
