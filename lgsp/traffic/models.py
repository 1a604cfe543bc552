"""Counter tables of the store backend: one row per rate/quota key, one row per concurrency slot held.

Values are plain floats (a GCRA theoretical arrival time in epoch seconds, or a quota's use count) with an
expiry, so stale rows are simply ignored and swept later; nothing here is configuration.
"""

from __future__ import annotations

from sqlalchemy import Float, String
from sqlalchemy.orm import Mapped, mapped_column

from lgsp.store.base import Base


class TrafficCounter(Base):
    __tablename__ = "traffic_counters"

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float, index=True)


class TrafficSlot(Base):
    __tablename__ = "traffic_slots"

    token: Mapped[str] = mapped_column(String(40), primary_key=True)
    key: Mapped[str] = mapped_column(String(400), index=True)
    expires_at: Mapped[float] = mapped_column(Float)
