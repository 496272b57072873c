"""Deadline arithmetic (Articles 8.1 and 8.5): worked examples, boundaries, a slow reference."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import cache

import chinese_calendar
import pytest
from chinese_calendar import constants

from activities.store.calendar_data import package_calendar
from domain.calendar import BusinessCalendar, CalendarYear
from domain.deadlines import (
    ComputedDeadline,
    completion_deadline,
    doubtful_reply_deadline,
    receipt_deadline,
    rehandling_deadline,
    return_deadline,
    warning_deadline,
    warning_instant,
)
from domain.errors import InvalidInstant
from domain.models import Category, Tier
from domain.rulebook import Rulebook, WindowOverrides, rulebook_by_id
from tests.support.deadlines import WORKED_EXAMPLES

CST = timezone(timedelta(hours=8))
CAL = package_calendar()
RB = rulebook_by_id("tianjin-2021")


def at(s: str) -> datetime:
    return datetime.fromisoformat(s)


def receipt(tier: str, t: str, cal: BusinessCalendar = CAL) -> ComputedDeadline:
    return receipt_deadline(RB, cal, at(t), tier=Tier(tier))


def completion(tier: str, t: str, cal: BusinessCalendar = CAL) -> ComputedDeadline:
    return completion_deadline(RB, cal, at(t), tier=Tier(tier))


#: What every explanation of `tianjin-2021` says from its nominal end on (Article 14).
PAST_END = (
    " [rulebook tianjin-2021: past its nominal end 2024-04-02 (Article 14), in force until a successor is imported]"
)


class TestWorkedExamples:
    @pytest.mark.parametrize(("tier", "dispatched_at", "receipt_due", "completion_due"), WORKED_EXAMPLES)
    def test_worked_example(self, tier: str, dispatched_at: str, receipt_due: str, completion_due: str) -> None:
        """Both deadlines of every worked example in rulebook.md, to the second, in +08:00."""
        r = receipt(tier, dispatched_at)
        c = completion(tier, dispatched_at)
        assert r.due == at(receipt_due)
        assert c.due == at(completion_due)
        assert r.due.isoformat() == at(receipt_due).isoformat()  # same offset, not just instant
        assert c.due.isoformat() == at(completion_due).isoformat()
        assert r.calendar_confirmed
        assert c.calendar_confirmed
        assert r.rulebook == c.rulebook == "tianjin-2021"
        assert (r.kind, c.kind) == ("receipt", "completion")

    def test_explanation_of_the_rulebook(self) -> None:
        """The receipt explanation reads exactly like the rules' example, and says the rulebook is past its end."""
        r = receipt("normal", "2026-09-30T16:30+08:00")
        assert r.explanation == (
            "receipt: dispatched Wed 2026-09-30 16:30 (non-working period); work resumes Thu "
            "2026-10-08 09:00; the wait spans the 7-day National Day break (>= 5 days) -> +24h "
            "= Fri 2026-10-09 09:00" + PAST_END
        )

    def test_before_the_nominal_end_nothing_is_added(self) -> None:
        """Article 14: until 2024-04-02 the measures were in their own validity; no note."""
        r = receipt("normal", "2024-04-01T10:00+08:00")
        assert (
            r.explanation == "receipt: dispatched Mon 2024-04-01 10:00 (working period) -> +3h = Mon 2024-04-01 13:00"
        )
        assert receipt("normal", "2024-04-02T10:00+08:00").explanation.endswith(PAST_END)

    def test_completion_explanation_lists_the_counted_days(self) -> None:
        """The completion explanation names the counted days, make-up day and skipped break."""
        c = completion("normal", "2026-02-12T16:45+08:00")
        assert c.explanation == (
            "completion: dispatched Thu 2026-02-12 16:45; normal: 6 working days, the day of the "
            "start not counted (Civil Code Arts. 201-203): Fri 2026-02-13, Sat 2026-02-14 (make-up "
            "working day), Tue 2026-02-24, Wed 2026-02-25, Thu 2026-02-26, Fri 2026-02-27; "
            "skipping the 9-day Spring Festival break; due at the end of Fri 2026-02-27 = "
            "Sat 2026-02-28 00:00" + PAST_END
        )

    def test_short_break_explanation(self) -> None:
        """A wait over a short break says so and why it is only +3h."""
        r = receipt("normal", "2026-06-18T16:20+08:00")
        assert "the wait spans the 3-day Dragon Boat Festival break (< 5 days) -> +3h" in r.explanation


class TestReceiptBoundaries:
    @pytest.mark.parametrize(
        ("tier", "dispatched_at", "expected"),
        [
            # the working period's edges
            ("normal", "2026-03-06T09:00:00+08:00", "2026-03-06T12:00:00+08:00"),
            ("normal", "2026-03-06T08:59:59+08:00", "2026-03-06T12:00:00+08:00"),
            ("normal", "2026-03-06T15:59:59+08:00", "2026-03-06T18:59:59+08:00"),
            ("normal", "2026-03-06T16:00:00+08:00", "2026-03-09T12:00:00+08:00"),
            ("very_urgent", "2026-03-06T16:00:00+08:00", "2026-03-09T12:00:00+08:00"),
            # the day before and after each 2026 break
            ("normal", "2025-12-31T16:30:00+08:00", "2026-01-04T12:00:00+08:00"),
            ("normal", "2026-01-04T10:00:00+08:00", "2026-01-04T13:00:00+08:00"),
            ("urgent", "2026-02-14T16:30:00+08:00", "2026-02-25T09:00:00+08:00"),
            ("urgent", "2026-02-24T10:00:00+08:00", "2026-02-24T13:00:00+08:00"),
            ("normal", "2026-04-03T16:00:00+08:00", "2026-04-07T12:00:00+08:00"),
            ("normal", "2026-04-07T09:00:00+08:00", "2026-04-07T12:00:00+08:00"),
            ("normal", "2026-04-30T16:00:00+08:00", "2026-05-07T09:00:00+08:00"),
            ("normal", "2026-05-06T15:59:59+08:00", "2026-05-06T18:59:59+08:00"),
            ("normal", "2026-06-18T16:00:00+08:00", "2026-06-22T12:00:00+08:00"),
            ("normal", "2026-06-22T08:59:59+08:00", "2026-06-22T12:00:00+08:00"),
            ("normal", "2026-09-24T17:00:00+08:00", "2026-09-28T12:00:00+08:00"),
            ("normal", "2026-09-28T09:00:00+08:00", "2026-09-28T12:00:00+08:00"),
            ("normal", "2026-09-30T16:30:00+08:00", "2026-10-09T09:00:00+08:00"),
            ("normal", "2026-10-08T16:00:00+08:00", "2026-10-09T12:00:00+08:00"),
            # inside a long break, and the morning after it (the rule as written: [t, W) then
            # holds no break day, so +3h)
            ("normal", "2026-02-23T23:59:59+08:00", "2026-02-25T09:00:00+08:00"),
            ("normal", "2026-02-24T00:00:00+08:00", "2026-02-24T12:00:00+08:00"),
            # make-up working days
            ("normal", "2026-01-04T08:00:00+08:00", "2026-01-04T12:00:00+08:00"),
            ("normal", "2026-02-14T10:00:00+08:00", "2026-02-14T13:00:00+08:00"),
            ("normal", "2026-02-28T15:00:00+08:00", "2026-02-28T18:00:00+08:00"),
            ("normal", "2026-05-09T16:00:00+08:00", "2026-05-11T12:00:00+08:00"),
            ("normal", "2026-09-19T12:00:00+08:00", "2026-09-20T12:00:00+08:00"),
            ("normal", "2026-09-20T12:00:00+08:00", "2026-09-20T15:00:00+08:00"),
            ("normal", "2026-10-10T09:00:00+08:00", "2026-10-10T12:00:00+08:00"),
            # extra_urgent: wall clock, any day
            ("extra_urgent", "2026-10-03T03:00:00+08:00", "2026-10-03T04:00:00+08:00"),
            # another offset: 01:00 UTC is 09:00 in Tianjin
            ("normal", "2026-03-06T01:00:00+00:00", "2026-03-06T12:00:00+08:00"),
            ("normal", "2026-03-06T08:00:00Z", "2026-03-09T12:00:00+08:00"),
        ],
    )
    def test_receipt(self, tier: str, dispatched_at: str, expected: str) -> None:
        """Article 8.1 at the edges of the working period, the breaks and the make-up days."""
        r = receipt(tier, dispatched_at)
        assert r.due.isoformat() == at(expected).isoformat()
        assert r.start == at(dispatched_at)


class TestCompletionBoundaries:
    @pytest.mark.parametrize(
        ("tier", "dispatched_at", "expected"),
        [
            ("normal", "2026-02-13T10:00:00+08:00", "2026-03-01T00:00:00+08:00"),
            ("urgent", "2026-09-30T10:00:00+08:00", "2026-10-10T00:00:00+08:00"),
            ("very_urgent", "2026-09-19T10:00:00+08:00", "2026-09-21T00:00:00+08:00"),
            ("normal", "2026-04-30T23:59:59+08:00", "2026-05-13T00:00:00+08:00"),
            ("very_urgent", "2026-01-03T23:00:00+08:00", "2026-01-05T00:00:00+08:00"),
            ("urgent", "2026-05-08T16:00:00+08:00", "2026-05-12T00:00:00+08:00"),
            ("normal", "2026-03-10T00:00:00+08:00", "2026-03-19T00:00:00+08:00"),
            ("very_urgent", "2026-03-09T23:59:59+08:00", "2026-03-11T00:00:00+08:00"),
            ("extra_urgent", "2026-10-01T23:45:00+08:00", "2026-10-02T00:15:00+08:00"),
            # 2026-03-06 16:00 UTC is 03-07 00:00 in Tianjin: the day of t is Saturday
            ("very_urgent", "2026-03-06T16:00:00+00:00", "2026-03-10T00:00:00+08:00"),
        ],
    )
    def test_completion(self, tier: str, dispatched_at: str, expected: str) -> None:
        """Article 8.5: the day of t not counted; 00:00 after the last counted working day."""
        assert completion(tier, dispatched_at).due.isoformat() == at(expected).isoformat()


class TestUnknownYear:
    def test_into_2027_is_unconfirmed(self) -> None:
        """A completion window reaching into 2027 (unknown) assumes Monday-Friday, unconfirmed."""
        c = completion("normal", "2026-12-31T10:00:00+08:00")
        assert c.due == at("2027-01-09T00:00:00+08:00")
        assert not c.calendar_confirmed
        assert "calendar for 2027 not confirmed: Monday-Friday assumed" in c.explanation

    def test_receipt_waiting_into_2027_is_unconfirmed(self) -> None:
        """A receipt whose next work start lies in 2027 is unconfirmed."""
        r = receipt("normal", "2026-12-31T16:00:00+08:00")
        assert r.due == at("2027-01-01T12:00:00+08:00")
        assert not r.calendar_confirmed

    def test_counting_only_2026_days_is_confirmed(self) -> None:
        """Due at 2027-01-01 00:00 after counting only 12-31: every counted day is known."""
        c = completion("very_urgent", "2026-12-30T10:00:00+08:00")
        assert c.due == at("2027-01-01T00:00:00+08:00")
        assert c.calendar_confirmed

    def test_receipt_in_the_working_period_of_a_known_day_is_confirmed(self) -> None:
        """2026-12-31 10:00 + 3h only needs 2026-12-31."""
        assert receipt("normal", "2026-12-31T10:00:00+08:00").calendar_confirmed

    @pytest.mark.parametrize(
        ("tier", "before", "after"),
        [
            ("very_urgent", "2027-01-02T00:00:00+08:00", "2027-01-05T00:00:00+08:00"),
            ("urgent", "2027-01-05T00:00:00+08:00", "2027-01-06T00:00:00+08:00"),
            ("normal", "2027-01-09T00:00:00+08:00", "2027-01-12T00:00:00+08:00"),
        ],
    )
    def test_entering_2027_confirms(self, tier: str, before: str, after: str) -> None:
        """Once 2027 is entered (1/1 off), the same start gives a confirmed, later deadline."""
        y2027 = CalendarYear(year=2027, holidays={date(2027, 1, 1): "New Year's Day"})
        years = [y for y in (CAL.year(n) for n in CAL.known_years) if y is not None]
        cal = BusinessCalendar([*years, y2027])
        old = completion(tier, "2026-12-31T10:00:00+08:00")
        new = completion(tier, "2026-12-31T10:00:00+08:00", cal)
        assert (old.due, old.calendar_confirmed) == (at(before), False)
        assert (new.due, new.calendar_confirmed) == (at(after), True)

    def test_extra_urgent_needs_no_calendar(self) -> None:
        """Wall-clock windows are always confirmed."""
        r = receipt("extra_urgent", "2026-12-31T23:50:00+08:00")
        assert r.due == at("2027-01-01T00:50:00+08:00")
        assert r.calendar_confirmed


class TestOtherDeadlines:
    def test_rehandling_restarts_from_the_callback(self) -> None:
        """Re-handling gets a fresh completion deadline from the callback's arrival (Art. 8.5)."""
        d = rehandling_deadline(RB, CAL, at("2026-09-30T16:30+08:00"), tier=Tier.URGENT)
        assert d.kind == "rehandling"
        assert d.due == at("2026-10-10T00:00+08:00")
        assert d.explanation.startswith("rehandling: callback arrived Wed 2026-09-30 16:30;")

    def test_doubtful_reply_is_one_working_day(self) -> None:
        """A doubtful order's reply is due at the end of the next working day."""
        d = doubtful_reply_deadline(RB, CAL, at("2026-09-30T11:00+08:00"))
        assert (d.kind, d.due) == ("doubtful_reply", at("2026-10-09T00:00+08:00"))

    def test_return_window_is_wall_clock(self) -> None:
        """Returns are allowed for 8 hours, holidays or not."""
        d = return_deadline(RB, at("2026-10-01T20:00+08:00"))
        assert (d.kind, d.due, d.calendar_confirmed) == (
            "return",
            at("2026-10-02T04:00+08:00"),
            True,
        )

    def test_warning_at_80_percent(self) -> None:
        """The warning falls when 80% of the window has elapsed."""
        r = receipt("normal", "2026-03-06T09:00+08:00")
        w = warning_deadline(RB, r)
        assert (w.kind, w.due) == ("receipt_warning", at("2026-03-06T11:24+08:00"))
        assert warning_instant(RB, r) == w.due
        c = completion("normal", "2026-03-06T09:00+08:00")  # 11 days - 9h = 255h; 80% = 204h
        assert warning_instant(RB, c) == at("2026-03-06T09:00+08:00") + timedelta(hours=204)

    def test_category_overrides_apply(self) -> None:
        """A category override changes that category's windows only, and says so."""
        rb = Rulebook(
            id="test-heating",
            effective_from=date(2021, 4, 2),
            category_overrides={Category.HEATING: WindowOverrides(receipt_in_working_period=timedelta(hours=1))},
        )
        t = at("2026-03-06T09:00+08:00")
        heating = receipt_deadline(rb, CAL, t, tier=Tier.NORMAL, category=Category.HEATING)
        gas = receipt_deadline(rb, CAL, t, tier=Tier.NORMAL, category=Category.GAS)
        assert heating.due == at("2026-03-06T10:00+08:00")
        assert heating.explanation.startswith("receipt [heating rules]:")
        assert gas.due == at("2026-03-06T12:00+08:00")

    def test_naive_instant_is_refused(self) -> None:
        """A naive dispatched_at is an error naming the allowed form."""
        with pytest.raises(InvalidInstant, match=r"naive.*2026-11-27T10:15:00\+08:00"):
            receipt_deadline(RB, CAL, datetime(2026, 3, 6, 9), tier=Tier.NORMAL)  # noqa: DTZ001
        with pytest.raises(InvalidInstant):
            completion_deadline(RB, CAL, datetime(2026, 3, 6, 9), tier=Tier.NORMAL)  # noqa: DTZ001

    def test_result_is_frozen_and_in_tianjin_time(self) -> None:
        """Results are values in +08:00 whatever the input offset."""
        r = receipt_deadline(RB, CAL, datetime(2026, 3, 6, 1, tzinfo=UTC), tier=Tier.NORMAL)
        assert r.start.utcoffset() == r.due.utcoffset() == timedelta(hours=8)
        with pytest.raises(ValueError, match="frozen"):
            r.due = r.start  # type: ignore[misc]


# -- an independent slow reference, day by day, straight from rulebook.md ---------------------

_KNOWN_YEARS = range(2004, 2027)  # what chinesecalendar 1.11 covers


@cache
def _ref_is_workday(d: date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(d))
    except NotImplementedError:  # a year the package does not know: Monday-Friday
        return d.weekday() < 5


def _reference(tier: Tier, t: datetime) -> tuple[datetime, bool, datetime, bool]:
    """(receipt due, confirmed, completion due, confirmed) computed the slow way."""
    t = t.astimezone(CST)
    seen: list[date] = []

    def work(d: date) -> bool:
        seen.append(d)
        return _ref_is_workday(d)

    def confirmed() -> bool:
        ok = all(d.year in _KNOWN_YEARS for d in seen)
        seen.clear()
        return ok

    def break_length(d: date) -> int:
        if work(d):
            return 0
        first = last = d
        while not work(first - timedelta(days=1)):
            first -= timedelta(days=1)
        while not work(last + timedelta(days=1)):
            last += timedelta(days=1)
        days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        return len(days) if any(x in constants.holidays for x in days) else 0

    # receipt
    if tier is Tier.EXTRA_URGENT:
        r_due, r_ok = t + timedelta(hours=1), True
    elif work(t.date()) and time(9) <= t.time() < time(16):
        r_due, r_ok = t + timedelta(hours=3), confirmed()
    else:
        d = t.date()
        if not (work(d) and t.time() < time(9)):
            d += timedelta(days=1)
            while not work(d):
                d += timedelta(days=1)
        w = datetime.combine(d, time(9), tzinfo=CST)
        day, long_break = t.date(), False
        while day <= w.date():
            long_break = long_break or break_length(day) >= 5
            day += timedelta(days=1)
        r_due, r_ok = w + timedelta(hours=24 if long_break else 3), confirmed()
    seen.clear()
    # completion
    if tier is Tier.EXTRA_URGENT:
        c_due, c_ok = t + timedelta(minutes=30), True
    else:
        n = {Tier.NORMAL: 6, Tier.URGENT: 2, Tier.VERY_URGENT: 1}[tier]
        d, counted = t.date(), 0
        while counted < n:
            d += timedelta(days=1)
            counted += work(d)
        c_due, c_ok = datetime.combine(d + timedelta(days=1), time(0), tzinfo=CST), confirmed()
    return r_due, r_ok, c_due, c_ok


def _instants_2025_2026() -> list[datetime]:
    """Every hour of 2025 and 2026 on the hour, and one second before each hour."""
    start = datetime(2025, 1, 1, tzinfo=CST)
    out = []
    for h in range(int((datetime(2027, 1, 1, tzinfo=CST) - start) / timedelta(hours=1))):
        t = start + timedelta(hours=h)
        out += [t, t + timedelta(minutes=59, seconds=59)]
    return out


class TestAgainstReference:
    @pytest.mark.parametrize("tier", list(Tier))
    def test_every_hour_of_2025_and_2026(self, tier: Tier) -> None:
        """For every tier, the fast result equals the day-by-day reference to the second."""
        mismatches = []
        for t in _instants_2025_2026():
            r = receipt_deadline(RB, CAL, t, tier=tier)
            c = completion_deadline(RB, CAL, t, tier=tier)
            expected = _reference(tier, t)
            got = (r.due, r.calendar_confirmed, c.due, c.calendar_confirmed)
            if got != expected:
                mismatches.append((t.isoformat(), got, expected))
        assert mismatches[:5] == []

    def test_reference_covers_the_year_end(self) -> None:
        """The reference and the fast code agree across the unknown 2027 too."""
        for h in range(0, 24 * 20):
            t = datetime(2026, 12, 20, tzinfo=CST) + timedelta(hours=h)
            for tier in Tier:
                r = receipt_deadline(RB, CAL, t, tier=tier)
                c = completion_deadline(RB, CAL, t, tier=tier)
                assert (r.due, r.calendar_confirmed, c.due, c.calendar_confirmed) == _reference(tier, t), t
