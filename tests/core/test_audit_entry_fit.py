"""One caller's over-long text cannot fail the batch it shares (PostgreSQL checks VARCHAR lengths).

A 300-character X-LGSP-User-Id or a 3,000-character path used to fail the whole group-commit batch on
PostgreSQL: that caller and every caller committed with it got a 500. Now the entry is fitted to its
columns (lgsp.audit.fit), the same on both backends, and its receipt still verifies.
"""

from __future__ import annotations

import threading

from lgsp.audit.bundle_verify import verify_bundle
from lgsp.audit.fit import fit_to_columns
from tests.core.conftest import ECHO, Stack


def test_long_values_are_cut_and_noted_and_short_ones_untouched() -> None:
    entry = {"user_id": "u" * 300, "path": "/p", "extra": {"k": 1}}
    fitted = fit_to_columns(entry)
    assert len(fitted["user_id"]) == 200 and fitted["user_id"].endswith("…")
    assert fitted["extra"] == {"k": 1, "clamped": {"user_id": 300}}
    assert entry["user_id"] == "u" * 300  # the caller's dict is left alone
    short = {"user_id": "can-bo-01", "path": "/p", "extra": {}}
    assert fit_to_columns(short) is short


def test_an_over_long_caller_does_not_fail_the_callers_it_shares_a_batch_with(stack: Stack) -> None:
    token = stack.token(stack.client)
    good_headers = {"Authorization": f"Bearer {token}"}
    statuses: list[tuple[str, int]] = []

    def call(kind: str) -> None:
        import httpx

        headers = dict(good_headers)
        path = f"/services/{ECHO}/records/1"
        if kind == "long-user":
            headers["X-LGSP-User-Id"] = "u" * 300
        elif kind == "long-path":
            headers = {}  # no token either: refused and audited all the same
            path = f"/services/{ECHO}/" + "p" * 3000
        with httpx.Client(base_url=stack.url, timeout=30) as http:
            statuses.append((kind, http.get(path, headers=headers).status_code))

    kinds = ["good"] * 24 + ["long-user"] * 4 + ["long-path"] * 4  # the gateway refuses both, and audits it
    threads = [threading.Thread(target=call, args=(kind,)) for kind in kinds]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == sorted([("good", 200)] * 24 + [("long-path", 400)] * 4 + [("long-user", 400)] * 4)

    auditor = stack.auth(stack.auditor)
    entries = stack.http.get("/audit/entries", params={"user_id": "u" * 199 + "…"}, headers=auditor).json()["entries"]
    assert len(entries) == 4
    receipt = stack.http.get(f"/audit/entries/{entries[0]['index']}", headers=auditor).json()
    assert receipt["extra"]["clamped"] == {"user_id": 300} and receipt["status"] == 400
    assert verify_bundle(receipt, trusted_keys=stack.app.runtime.audit.heads.keyring()).passed
