"""The edits an operator with database access can make, done with plain SQL as they would be."""

from __future__ import annotations

from sqlalchemy import Connection, text


def cut_tail(conn: Connection, keep: int, with_heads: bool) -> None:
    """Delete entries ``>= keep`` and the tree nodes over them (the tree is 'rebuilt' to match)."""
    conn.execute(text("DELETE FROM audit_entries WHERE idx >= :k"), {"k": keep})
    conn.execute(text("DELETE FROM audit_bodies WHERE idx >= :k"), {"k": keep})
    rows = conn.execute(text("SELECT level, idx FROM audit_tree_nodes")).all()
    for level, idx in rows:
        if (int(idx) + 1) << int(level) > keep:
            conn.execute(text("DELETE FROM audit_tree_nodes WHERE level = :l AND idx = :i"), {"l": level, "i": idx})
    if with_heads:
        conn.execute(text("DELETE FROM audit_heads WHERE tree_size > :k"), {"k": keep})


def delete_heads_above(conn: Connection, size: int) -> None:
    conn.execute(text("DELETE FROM audit_heads WHERE tree_size > :s"), {"s": size})
