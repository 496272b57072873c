"""Invariants of the calendar and the deadline arithmetic, checked with hypothesis."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from activities.store.calendar_data import package_calendar
from domain.calendar import BusinessCalendar, CalendarYear
from domain.deadlines import (
    completion_deadline,
    receipt_deadline,
    return_deadline,
    warning_deadline,
)
from domain.models import Tier
from domain.rulebook import rulebook_by_id

CST = timezone(timedelta(hours=8))
CAL = package_calendar()
RB = rulebook_by_id("tianjin-2021")
DAY = timedelta(days=1)

offsets = st.integers(min_value=-12 * 4, max_value=14 * 4).map(lambda q: timezone(timedelta(minutes=15 * q)))
instants = st.builds(
    lambda base, secs, tz: (base + timedelta(seconds=secs)).astimezone(tz),
    st.just(datetime(2003, 6, 1, tzinfo=CST)),
    st.integers(min_value=0, max_value=int(timedelta(days=365 * 24 + 200).total_seconds())),
    offsets,
)
tiers = st.sampled_from(list(Tier))
day_tiers = st.sampled_from([Tier.NORMAL, Tier.URGENT, Tier.VERY_URGENT])


def _work_start(t: datetime) -> datetime:
    return CAL.next_work_start(t, start=RB.work_start)


def _morning_after_long_break(t1: datetime, t2: datetime) -> bool:
    """t2 lies before 09:00 on the first working day after the long break t1 waits out.

    The rule as written (rulebook.md, receipt): only days in [t, W) count, so an order that
    arrives in the small hours after a long break gets W + 3h while one arriving minutes earlier,
    still inside the break, gets W + 24h.
    """
    w = _work_start(t1)
    first = t1.astimezone(CST).date()
    long_break = any(b.days >= RB.long_break_min_days for b in CAL.breaks_between(first, w.date() - DAY))
    return long_break and t2.astimezone(CST).date() == w.date() and t2 < w


class TestDeadlineInvariants:
    @given(t=instants, tier=tiers)
    def test_never_before_the_start(self, t: datetime, tier: Tier) -> None:
        """Every deadline lies after its start."""
        for d in (
            receipt_deadline(RB, CAL, t, tier=tier),
            completion_deadline(RB, CAL, t, tier=tier),
            return_deadline(RB, t),
        ):
            assert d.due > t
            assert d.start == t
            w = warning_deadline(RB, d)
            assert t < w.due < d.due

    @given(t1=instants, gap=st.integers(min_value=0, max_value=20 * 86400), tier=day_tiers)
    def test_completion_is_monotonic(self, t1: datetime, gap: int, tier: Tier) -> None:
        """Moving the start later never moves the completion deadline earlier."""
        t2 = t1 + timedelta(seconds=gap)
        a = completion_deadline(RB, CAL, t1, tier=tier)
        b = completion_deadline(RB, CAL, t2, tier=tier)
        assert a.due <= b.due

    @given(t1=instants, gap=st.integers(min_value=0, max_value=20 * 86400), tier=tiers)
    def test_receipt_is_monotonic(self, t1: datetime, gap: int, tier: Tier) -> None:
        """Moving the start later never moves the receipt deadline earlier (but see below)."""
        t2 = t1 + timedelta(seconds=gap)
        assume(not _morning_after_long_break(t1, t2))
        a = receipt_deadline(RB, CAL, t1, tier=tier)
        b = receipt_deadline(RB, CAL, t2, tier=tier)
        assert a.due <= b.due

    def test_the_one_exception_to_monotonic_receipt(self) -> None:
        """The rule as written: inside the break +24h, the small hours after it +3h (earlier)."""
        inside = receipt_deadline(RB, CAL, datetime(2026, 10, 7, 23, 0, tzinfo=CST), tier=Tier.NORMAL)
        after = receipt_deadline(RB, CAL, datetime(2026, 10, 8, 1, 0, tzinfo=CST), tier=Tier.NORMAL)
        assert inside.due == datetime(2026, 10, 9, 9, 0, tzinfo=CST)
        assert after.due == datetime(2026, 10, 8, 12, 0, tzinfo=CST)

    @given(t=instants, tier=day_tiers)
    def test_receipt_lands_in_the_working_period_unless_wall_clock(self, t: datetime, tier: Tier) -> None:
        """After a wait for work start without a long break, receipt is due in working hours."""
        r = receipt_deadline(RB, CAL, t, tier=tier)
        if CAL.in_working_period(t, start=RB.work_start, end=RB.work_end):
            assert r.due == t.astimezone(CST) + RB.receipt_in_working_period  # wall clock
            return
        w = _work_start(t)
        assert r.due in (w + RB.receipt_after_work_start, w + RB.receipt_after_long_break)
        if r.due == w + RB.receipt_after_work_start:
            assert CAL.in_working_period(r.due, start=RB.work_start, end=RB.work_end)

    @given(t=instants, tier=day_tiers)
    def test_completion_is_the_end_of_the_nth_working_day(self, t: datetime, tier: Tier) -> None:
        """Due at 00:00 right after a working day, with exactly N working days counted."""
        c = completion_deadline(RB, CAL, t, tier=tier)
        last = c.due.date() - DAY
        assert c.due.time() == time(0)
        assert c.due.utcoffset() == timedelta(hours=8)
        assert CAL.is_working_day(last)
        start_day = t.astimezone(CST).date()
        assert CAL.count_working_days(start_day + DAY, last) == RB.completion_working_days[tier]

    @given(t=instants, tier=tiers, tz=offsets)
    def test_offset_does_not_matter(self, t: datetime, tier: Tier, tz: timezone) -> None:
        """The same instant written with another offset gives the same deadline."""
        a = receipt_deadline(RB, CAL, t, tier=tier)
        b = receipt_deadline(RB, CAL, t.astimezone(tz), tier=tier)
        assert a == b

    @given(t=instants)
    def test_next_work_start(self, t: datetime) -> None:
        """The next work start is a 09:00 of a working day, with no work start skipped."""
        w = _work_start(t)
        local = t.astimezone(CST)
        assert w >= t
        assert w.time() == RB.work_start
        assert CAL.is_working_day(w.date())
        d = local.date() if local.time() <= RB.work_start else local.date() + DAY
        while d < w.date():
            assert not CAL.is_working_day(d)
            d += DAY


# -- the precomputed tables against the definition, on random calendars ----------------------

dates_2030 = st.dates(min_value=date(2030, 1, 1), max_value=date(2031, 12, 31))


@st.composite
def calendars(draw: st.DrawFn) -> BusinessCalendar:
    """Two consecutive random years (2030, 2031) of holidays and make-up days, 2032 unknown."""
    years = []
    for year in (2030, 2031):
        days = draw(st.sets(st.dates(min_value=date(year, 1, 1), max_value=date(year, 12, 31)), max_size=40))
        holidays = {d: f"H{d.month}" for d in days if d.day % 3}
        makeup = {d: "M" for d in days if not d.day % 3 and d.weekday() >= 5}
        years.append(CalendarYear(year=year, holidays=holidays, makeup_days=makeup))
    return BusinessCalendar(years)


def _naive_working(cal: BusinessCalendar, d: date) -> bool:
    data = cal.year(d.year)
    if data is None:
        return d.weekday() < 5
    return d in data.makeup_days or (d.weekday() < 5 and d not in data.holidays)


class TestTablesAgainstDefinition:
    @settings(max_examples=60)
    @given(cal=calendars(), d=st.dates(min_value=date(2028, 6, 1), max_value=date(2033, 6, 1)))
    def test_days_and_counting(self, cal: BusinessCalendar, d: date) -> None:
        """is_working_day, add_working_days and count_working_days follow the definition."""
        assert cal.is_working_day(d) == _naive_working(cal, d)
        for n in (1, 2, 6, 30):
            x, k = d, 0
            while k < n:
                x += DAY
                k += _naive_working(cal, x)
            assert cal.add_working_days(d, n) == x
        end = d + timedelta(days=40)
        naive = sum(_naive_working(cal, d + timedelta(days=i)) for i in range(41))
        assert cal.count_working_days(d, end) == naive

    @settings(max_examples=60)
    @given(cal=calendars(), d=dates_2030)
    def test_breaks(self, cal: BusinessCalendar, d: date) -> None:
        """A day's break is the maximal non-working run around it, if it holds a holiday."""
        b = cal.break_containing(d)
        if _naive_working(cal, d):
            assert b is None
            return
        first = last = d
        while not _naive_working(cal, first - DAY):
            first -= DAY
        while not _naive_working(cal, last + DAY):
            last += DAY
        run = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        if any(cal.holiday_name(x) for x in run):
            assert b is not None
            assert (b.start, b.end) == (first, last)
        else:
            assert b is None
