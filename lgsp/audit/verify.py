"""`lgsp audit verify`: recompute every stored entry's leaf hash and the hash chain from the store."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from lgsp.audit.canonical import canonical_entry_bytes, pick_entry_fields
from lgsp.audit.merkle import leaf_hash
from lgsp.audit.models import AuditEntry
from lgsp.audit.query import aware
from lgsp.audit.writer import GENESIS, chain


@dataclass
class ChainVerification:
    checked: int = 0
    problems: list[str] = field(default_factory=list)
    head: bytes = GENESIS

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def head_hex(self) -> str:
        return self.head.hex()


def verify_chain(engine: Engine, batch: int = 5000) -> ChainVerification:
    result = ChainVerification()
    expected_index = 0
    previous = GENESIS
    with Session(engine) as session:
        rows = session.execute(select(AuditEntry).order_by(AuditEntry.idx).execution_options(yield_per=batch))
        for (row,) in rows:
            if row.idx != expected_index:
                result.problems.append(f"entry {expected_index} is missing (next stored index is {row.idx})")
                expected_index = row.idx
            fields = {c.name: getattr(row, c.name) for c in AuditEntry.__table__.columns}
            fields["time"] = aware(row.time)
            leaf = leaf_hash(canonical_entry_bytes(pick_entry_fields(fields)))
            if leaf != bytes(row.leaf_hash):
                result.problems.append(f"entry {row.idx}: content does not match its leaf hash (altered)")
            previous = chain(previous, leaf)
            if previous != bytes(row.chain_hash):
                result.problems.append(f"entry {row.idx}: chain hash mismatch (an earlier entry changed or vanished)")
                previous = bytes(row.chain_hash)
            expected_index += 1
            result.checked += 1
    result.head = previous
    return result
