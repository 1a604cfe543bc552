"""Business status codes of a status packet (PROTOCOLS.md §1.6) and which transitions make sense.

The codes come from the sample set; the transition graph is our design assumption ([I]): it follows the
clerk's workflow (arrive → accept/refuse → assign → process → finish) and the sender's take-back request
(13) answered by agree (15) or refuse (16). It lets the poller and the conformance suite flag a DMS that
reports, say, "finished" for a document it has refused.
"""

from __future__ import annotations

from enum import StrEnum


class StatusCode(StrEnum):
    """Two-digit status codes used on the national axis."""

    INBOX = "01"  # Đã đến
    REJECTED = "02"  # Từ chối
    ACCEPTED = "03"  # Đã tiếp nhận
    ASSIGNED = "04"  # Phân công
    PROCESSING = "05"  # Đang xử lý
    FINISHED = "06"  # Hoàn thành
    CANCELLATION = "13"  # Lấy lại / thu hồi (sender asks to take the document back)
    CHANGE_ACCEPTED = "15"  # Đồng ý yêu cầu cập nhật / lấy lại
    CHANGE_REJECTED = "16"  # Từ chối yêu cầu cập nhật / lấy lại

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    StatusCode.INBOX: "Đã đến",
    StatusCode.REJECTED: "Từ chối",
    StatusCode.ACCEPTED: "Đã tiếp nhận",
    StatusCode.ASSIGNED: "Phân công",
    StatusCode.PROCESSING: "Đang xử lý",
    StatusCode.FINISHED: "Hoàn thành",
    StatusCode.CANCELLATION: "Lấy lại/thu hồi",
    StatusCode.CHANGE_ACCEPTED: "Đồng ý cập nhật/lấy lại",
    StatusCode.CHANGE_REJECTED: "Từ chối cập nhật/lấy lại",
}

_S = StatusCode
_WORK = frozenset({_S.ASSIGNED, _S.PROCESSING, _S.FINISHED, _S.CANCELLATION})

#: For each state (``None`` = nothing reported yet) the codes that may follow it.
TRANSITIONS: dict[StatusCode | None, frozenset[StatusCode]] = {
    None: frozenset({_S.INBOX, _S.REJECTED, _S.ACCEPTED, _S.CANCELLATION}),
    _S.INBOX: frozenset({_S.REJECTED, _S.ACCEPTED, _S.CANCELLATION}),
    _S.REJECTED: frozenset(),
    _S.ACCEPTED: _WORK,
    _S.ASSIGNED: _WORK,
    _S.PROCESSING: frozenset({_S.PROCESSING, _S.FINISHED, _S.CANCELLATION}),
    _S.FINISHED: frozenset(),
    _S.CANCELLATION: frozenset({_S.CHANGE_ACCEPTED, _S.CHANGE_REJECTED}),
    _S.CHANGE_ACCEPTED: frozenset(),
    _S.CHANGE_REJECTED: frozenset({_S.INBOX, _S.ACCEPTED, *_WORK}),
}

FINAL = frozenset(code for code, nexts in TRANSITIONS.items() if code is not None and not nexts)


def can_transition(current: StatusCode | None, new: StatusCode) -> bool:
    """Whether ``new`` may follow ``current`` for the same document."""
    return new in TRANSITIONS[current]


def check_sequence(codes: list[StatusCode]) -> list[str]:
    """Problems in a chronological sequence of codes for one document (empty when it is coherent)."""
    problems: list[str] = []
    current: StatusCode | None = None
    for index, code in enumerate(codes):
        if not can_transition(current, code):
            before = current.value if current else "start"
            problems.append(f"#{index}: {before} → {code.value} is not a valid transition")
        current = code
    return problems
