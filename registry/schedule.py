"""Cron-like schedules per dataset (``minute hour day-of-month month day-of-week``, UTC).

Deliberately small: ``*``, ``*/n``, ``a``, ``a-b``, ``a-b/n`` and comma lists -- enough for
"every night at 02:00" or "every 15 minutes". The worker asks :func:`is_due` with the last run time;
it never needs to enumerate future times beyond :func:`next_run`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
NAMES = ("minute", "hour", "day of month", "month", "day of week")


class CronError(ValueError):
    pass


def _parse_field(text: str, low: int, high: int, name: str) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if base == "*":
            start, end = low, high
        elif "-" in base:
            a, b = base.split("-", 1)
            start, end = int(a), int(b)
        else:
            start = end = int(base)
            if step_text:
                end = high
        if step < 1 or start < low or end > high or start > end:
            raise CronError(f"{name} field {part!r} outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday, as in cron

    @classmethod
    def parse(cls, expression: str) -> Cron:
        parts = expression.split()
        if len(parts) != 5:
            raise CronError(f"cron expression {expression!r} needs 5 fields")
        try:
            fields = [_parse_field(p.replace("7", "0") if i == 4 else p, *RANGES[i], NAMES[i])
                      for i, p in enumerate(parts)]
        except ValueError as exc:
            raise CronError(f"cron expression {expression!r}: {exc}") from exc
        return cls(*fields)

    def matches(self, moment: datetime) -> bool:
        weekday = (moment.weekday() + 1) % 7
        return (moment.minute in self.minutes and moment.hour in self.hours and moment.day in self.days
                and moment.month in self.months and weekday in self.weekdays)

    def next_run(self, after: datetime) -> datetime:
        """First matching minute strictly after ``after`` (searches at most ~1 year)."""
        moment = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
        for _ in range(366 * 24 * 60):
            if self.matches(moment):
                return moment
            moment += timedelta(minutes=1)
        raise CronError("no matching time within a year")


def is_due(expression: str, last_run: datetime | None, now: datetime) -> bool:
    """Due when a scheduled minute has passed since ``last_run`` (never run -> due now)."""
    if last_run is None:
        return True
    return Cron.parse(expression).next_run(last_run) <= now
