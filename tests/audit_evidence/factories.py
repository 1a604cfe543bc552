"""A small real audit log for tests: entries, a tree store, a log key and signed heads."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from lgsp.audit.canonical import canonical_entry, entry_leaf_hash
from lgsp.audit.merkle import root_hash
from lgsp.audit.sth import LogKeyRing, LogSigner, SignedTreeHead
from lgsp.audit.tree_store import MemoryTreeStore, SqlTreeStore

T0 = datetime(2026, 11, 26, 8, 0, 0, 123456, tzinfo=UTC)


def make_entry(index: int) -> dict[str, Any]:
    """A plausible gateway exchange; every field varies with the index."""
    return canonical_entry(
        {
            "index": index,
            "time": T0 + timedelta(milliseconds=137 * index),
            "message_id": f"6f1c2a1e-0000-4000-8000-{index:012d}",
            "correlation_id": None if index % 3 else f"corr-{index // 3}",
            "client": "000.00.12.H10/MOTCUA",
            "service": "000.00.31.H10/QLVB/van-ban-den/v1",
            "method": "POST" if index % 2 else "GET",
            "path": f"/gateway/000.00.31.H10/QLVB/van-ban-den/v1/items/{index}",
            "user_id": f"cb-{index % 7}",
            "status": 200 if index % 5 else 403,
            "latency_us": 1500 + index,
            "request_sha256": hashlib.sha256(f"req {index}".encode()).hexdigest(),
            "response_sha256": hashlib.sha256(f"resp {index}".encode()).hexdigest(),
            "problem_type": None if index % 5 else "https://lgsp.cantho.gov.vn/problems/forbidden",
            "signature_report_sha256": None,
            "extra": {"node": "gw-1", "attempt": 1},
        }
    )


class SampleLog:
    """Entries appended to a real tree store, with heads signed by a freshly generated key."""

    def __init__(self, store: MemoryTreeStore | SqlTreeStore | None = None) -> None:
        self.store = store if store is not None else MemoryTreeStore()
        self.entries: list[dict[str, Any]] = []
        self.signer = LogSigner.generate()
        self.keyring = LogKeyRing([self.signer.public])
        self.heads: list[SignedTreeHead] = []

    def append(self, count: int) -> None:
        new = [make_entry(len(self.entries) + i) for i in range(count)]
        self.store.append([entry_leaf_hash(e) for e in new], start_index=len(self.entries))
        self.entries.extend(new)

    def sign_head(self) -> SignedTreeHead:
        size = len(self.entries)
        head = self.signer.sign_head(size, root_hash(self.store, size), T0 + timedelta(minutes=size))
        self.heads.append(head)
        return head
