"""Deadlines to check ours against: the rulebook's worked examples, and a straightforward
day-by-day loop over the `chinesecalendar` package (the benchmarks' reference)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import chinese_calendar

from domain.models import Tier

CST = timezone(timedelta(hours=8))
DAY = timedelta(days=1)

#: The rulebook's worked examples (2026 calendar): all ten rows, both deadlines:
#: (tier, dispatched_at, receipt_due, completion_due).
WORKED_EXAMPLES = [
    ("normal", "2026-03-06T09:00+08:00", "2026-03-06T12:00+08:00", "2026-03-17T00:00+08:00"),
    ("urgent", "2026-03-06T14:30+08:00", "2026-03-06T17:30+08:00", "2026-03-11T00:00+08:00"),
    ("very_urgent", "2026-03-06T16:00+08:00", "2026-03-09T12:00+08:00", "2026-03-10T00:00+08:00"),
    ("normal", "2026-03-07T10:00+08:00", "2026-03-09T12:00+08:00", "2026-03-17T00:00+08:00"),
    ("normal", "2026-02-12T16:45+08:00", "2026-02-13T12:00+08:00", "2026-02-28T00:00+08:00"),
    ("urgent", "2026-01-03T09:30+08:00", "2026-01-04T12:00+08:00", "2026-01-06T00:00+08:00"),
    ("normal", "2026-06-18T16:20+08:00", "2026-06-22T12:00+08:00", "2026-06-30T00:00+08:00"),
    ("very_urgent", "2026-10-09T22:00+08:00", "2026-10-10T12:00+08:00", "2026-10-11T00:00+08:00"),
    ("extra_urgent", "2026-02-17T23:50+08:00", "2026-02-18T00:50+08:00", "2026-02-18T00:20+08:00"),
    ("normal", "2026-05-03T10:00+08:00", "2026-05-07T09:00+08:00", "2026-05-13T00:00+08:00"),
]


def _is_workday(d: date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(d))
    except NotImplementedError:
        return d.weekday() < 5


def _break_days(d: date) -> int:
    if _is_workday(d):
        return 0
    first = last = d
    while not _is_workday(first - DAY):
        first -= DAY
    while not _is_workday(last + DAY):
        last += DAY
    run = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    return len(run) if any(chinese_calendar.get_holiday_detail(x)[1] for x in run) else 0


def loop_deadlines(tier: Tier, t: datetime) -> tuple[datetime, datetime]:
    """Straightforward: ask the package about each day in turn."""
    if tier is Tier.EXTRA_URGENT:
        return t + timedelta(hours=1), t + timedelta(minutes=30)
    if _is_workday(t.date()) and time(9) <= t.time() < time(16):
        receipt = t + timedelta(hours=3)
    else:
        d = t.date()
        if not (_is_workday(d) and t.time() < time(9)):
            d += DAY
            while not _is_workday(d):
                d += DAY
        w = datetime.combine(d, time(9), tzinfo=CST)
        day, long_break = t.date(), False
        while day < w.date() and not long_break:
            long_break = _break_days(day) >= 5
            day += DAY
        receipt = w + timedelta(hours=24 if long_break else 3)
    n = {Tier.NORMAL: 6, Tier.URGENT: 2, Tier.VERY_URGENT: 1}[tier]
    d, counted = t.date(), 0
    while counted < n:
        d += DAY
        counted += _is_workday(d)
    return receipt, datetime.combine(d + DAY, time(0), tzinfo=CST)
