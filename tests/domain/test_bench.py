"""Benchmark: precomputed calendar vs. a day-by-day loop over chinese_calendar (`make bench`)."""

from __future__ import annotations

import random
import time as clock
from datetime import date, datetime, time, timedelta, timezone

import chinese_calendar
import pytest

from activities.calendar_data import package_calendar
from domain.deadlines import completion_deadline, receipt_deadline
from domain.models import Tier
from domain.rulebook import rulebook_by_id

CST = timezone(timedelta(hours=8))
DAY = timedelta(days=1)
N_FAST = 100_000
N_SLOW = 5_000  # the loop is slow; its rate is measured on fewer instants in the same run


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


def _loop_deadlines(tier: Tier, t: datetime) -> tuple[datetime, datetime]:
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


@pytest.mark.bench
def test_deadline_rate() -> None:
    """Ours computes (with explanations) at least 5x as many deadlines per second as the loop."""
    rng = random.Random(20260930)
    start = datetime(2024, 1, 1, tzinfo=CST)
    span = int((datetime(2026, 12, 15, tzinfo=CST) - start).total_seconds())
    tiers = list(Tier)
    cases = [(rng.choice(tiers), start + timedelta(seconds=rng.randrange(span))) for _ in range(N_FAST)]
    rb = rulebook_by_id("tianjin-2021")
    cal = package_calendar()

    t0 = clock.perf_counter()
    fast = [
        (
            receipt_deadline(rb, cal, t, tier=tier).due,
            completion_deadline(rb, cal, t, tier=tier).due,
        )
        for tier, t in cases
    ]
    fast_s = clock.perf_counter() - t0

    t0 = clock.perf_counter()
    slow = [_loop_deadlines(tier, t) for tier, t in cases[:N_SLOW]]
    slow_s = clock.perf_counter() - t0

    assert fast[:N_SLOW] == slow  # same answers, or the comparison means nothing
    fast_rate, slow_rate = N_FAST / fast_s, N_SLOW / slow_s
    print(
        f"\nprecomputed calendar: {N_FAST} orders (receipt + completion) in {fast_s:.2f}s = "
        f"{fast_rate:,.0f}/s\nday-by-day chinese_calendar loop: {N_SLOW} orders in "
        f"{slow_s:.2f}s = {slow_rate:,.0f}/s\nspeed-up: {fast_rate / slow_rate:.1f}x"
    )
    assert fast_rate >= 5 * slow_rate
