"""Big payloads (edXML packets) in a side table, written once, read without extra whole copies.

Why a side table: a packet used to live in the ``documents`` row *and* in its ``outbox`` row, and both
rows are UPDATEd on every state change (claim, lease, outcome). SQLite rewrites the whole record on an
UPDATE, so a 50 KB packet was written five times per document and a 67 MB one was rebuilt in memory at
every outcome. ``blobs`` rows are inserted once and never updated; the rows that change reference them
by id (``documents.packet_blob``, ``outbox.payload_blob``), and one packet is one blob however many rows
point at it.

Why BLOB I/O on SQLite: binding a ``bytes`` of 67 MB makes SQLite copy it (transient binding) and then
build the record from that copy, and reading it back materialises the record before Python copies it
into a ``bytes``. Above :data:`STREAM_THRESHOLD` the row is inserted with a ``zeroblob`` and filled, or
read, through ``sqlite3.Blob`` in 1 MB steps — inside the caller's transaction, so it commits (or rolls
back) with the rows that reference it. PostgreSQL (``bytea``) takes the plain path.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    DateTime,
    LargeBinary,
    String,
    Table,
    bindparam,
    case,
    func,
    insert,
    literal_column,
    select,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column

from lgsp.store.base import Base

#: Payloads at least this large go through SQLite's incremental BLOB I/O.
STREAM_THRESHOLD = 1024 * 1024
_STEP = 1024 * 1024


class Blob(Base):
    __tablename__ = "blobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: Last, so SQLite reads the columns before it without walking the payload's overflow pages.
    data: Mapped[bytes] = mapped_column(LargeBinary)


def _sqlite(conn: Connection) -> object | None:
    """The raw ``sqlite3.Connection`` when BLOB I/O is available on ``conn``, else None."""
    if conn.dialect.name != "sqlite":
        return None
    raw = conn.connection.dbapi_connection
    return raw if hasattr(raw, "blobopen") else None


_INSERT_BLOB = insert(cast(Table, Blob.__table__))


def put(conn: Connection, blob_id: str, data: bytes, sha256: str) -> str:
    """Insert ``data`` as blob ``blob_id`` in the caller's transaction; returns the id."""
    raw = _sqlite(conn) if len(data) >= STREAM_THRESHOLD else None
    values = {"id": blob_id, "sha256": sha256, "size": len(data), "created_at": datetime.now(UTC)}
    if raw is None:
        conn.execute(_INSERT_BLOB, {**values, "data": data})  # one statement, values as parameters
        return blob_id
    result = conn.execute(insert(Blob).values(**values, data=func.zeroblob(len(data))))
    rowid = result.lastrowid
    view = memoryview(data)
    with raw.blobopen("blobs", "data", rowid) as blob:  # type: ignore[attr-defined]
        for start in range(0, len(data), _STEP):
            blob.write(view[start:start + _STEP])
    return blob_id


#: SQLite: rowid and size of a blob, and its bytes inline when small (one query where there were two;
#: SQLite reads a large value's pages only if the CASE selects it, so a large one is still streamed).
_LOCATE = select(literal_column("rowid"), Blob.size,
                 case((Blob.size < STREAM_THRESHOLD, Blob.data), else_=None)).where(Blob.id == bindparam("blob_id"))


def get(conn: Connection, blob_id: str) -> bytes:
    """The bytes of blob ``blob_id`` (KeyError when there is none)."""
    raw = _sqlite(conn)
    if raw is not None:
        found: Any = conn.execute(_LOCATE, {"blob_id": blob_id}).first()
        if found is None:
            raise KeyError(blob_id)
        if found[1] >= STREAM_THRESHOLD:
            with raw.blobopen("blobs", "data", found[0], readonly=True) as blob:  # type: ignore[attr-defined]
                data: bytes = blob.read()  # one read into one new bytes object
            return data
        return bytes(found[2])
    value = conn.scalar(select(Blob.data).where(Blob.id == blob_id))
    if value is None:
        raise KeyError(blob_id)
    return bytes(value)


def size(conn: Connection, blob_id: str) -> int | None:
    found = conn.scalar(select(Blob.size).where(Blob.id == blob_id))
    return None if found is None else int(found)
