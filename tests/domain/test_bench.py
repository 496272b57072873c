"""Benchmark: precomputed calendar vs. a day-by-day loop over chinese_calendar (`make bench`)."""

from __future__ import annotations

import random
import time as clock
from datetime import datetime, timedelta, timezone

import pytest

from activities.store.calendar_data import package_calendar
from domain.deadlines import completion_deadline, receipt_deadline
from domain.models import Tier
from domain.rulebook import rulebook_by_id
from tests.support.bench import report
from tests.support.deadlines import loop_deadlines

CST = timezone(timedelta(hours=8))
DAY = timedelta(days=1)
N_FAST = 100_000
N_SLOW = 5_000  # the loop is slow; its rate is measured on fewer instants in the same run


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
    slow = [loop_deadlines(tier, t) for tier, t in cases[:N_SLOW]]
    slow_s = clock.perf_counter() - t0

    assert fast[:N_SLOW] == slow  # same answers, or the comparison means nothing
    fast_rate, slow_rate = N_FAST / fast_s, N_SLOW / slow_s
    print(
        f"\nprecomputed calendar: {N_FAST} orders (receipt + completion) in {fast_s:.2f}s = "
        f"{fast_rate:,.0f}/s\nday-by-day chinese_calendar loop: {N_SLOW} orders in "
        f"{slow_s:.2f}s = {slow_rate:,.0f}/s\nspeed-up: {fast_rate / slow_rate:.1f}x"
    )
    report("deadlines", orders=N_FAST, rate=fast_rate, loop_orders=N_SLOW, loop_rate=slow_rate)
    assert fast_rate >= 5 * slow_rate
