"""Integer request parameters bounded to what the store's columns can hold.

Why: audit indexes, tree sizes, grant ids and statuses live in signed 64-bit columns on SQLite and
PostgreSQL. An integer beyond that range reached the query unchecked, the driver refused to bind it
(``OverflowError`` on SQLite, ``NumericValueOutOfRange`` on PostgreSQL), and the caller got a 500. With the
bound in the parameter's declaration the caller gets a 422 naming the parameter, the OpenAPI document
shows the range, and no query runs.
"""

from __future__ import annotations

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def fits_int64(value: int) -> bool:
    """Whether ``value`` can be bound to a signed 64-bit column (for parameters parsed by hand)."""
    return INT64_MIN <= value <= INT64_MAX
