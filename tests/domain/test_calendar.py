"""The business calendar (Article 8.1): working days, working period, holiday breaks."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

import chinese_calendar
import pytest
from pydantic import ValidationError

from activities.store.calendar_data import package_calendar, package_years
from domain import deadlines
from domain.calendar import BusinessCalendar, CalendarYear
from domain.errors import CalendarError, InvalidInstant

CST = timezone(timedelta(hours=8))
CAL = package_calendar()
D = date.fromisoformat


def at(s: str) -> datetime:
    return datetime.fromisoformat(s)


class TestWorkingDays:
    @pytest.mark.parametrize(
        ("day", "working"),
        [
            ("2026-01-01", False),  # New Year's Day, Thursday
            ("2026-01-04", True),  # make-up Sunday
            ("2026-02-14", True),  # make-up Saturday
            ("2026-02-15", False),  # Spring Festival, Sunday
            ("2026-02-23", False),  # Spring Festival, Monday
            ("2026-02-24", True),
            ("2026-02-28", True),  # make-up Saturday
            ("2026-04-06", False),  # Qingming, Monday
            ("2026-05-05", False),  # Labour Day, Tuesday
            ("2026-05-09", True),  # make-up Saturday
            ("2026-06-19", False),  # Dragon Boat, Friday
            ("2026-09-20", True),  # make-up Sunday
            ("2026-09-25", False),  # Mid-autumn, Friday
            ("2026-10-07", False),  # National Day, Wednesday
            ("2026-10-10", True),  # make-up Saturday
            ("2026-03-07", False),  # plain Saturday
            ("2026-03-09", True),  # plain Monday
            ("2027-01-01", True),  # unknown year: Monday-Friday (a Friday)
            ("2027-01-02", False),  # unknown year: Saturday
            ("2003-01-01", True),  # before the first known year: Monday-Friday (a Wednesday)
        ],
    )
    def test_is_working_day(self, day: str, working: bool) -> None:
        """Holidays are off, make-up weekend days are worked, unknown years are Monday-Friday."""
        assert CAL.is_working_day(D(day)) is working

    def test_agrees_with_the_package_every_day(self) -> None:
        """For every day the package knows, our table says what chinese_calendar says."""
        d = date(2004, 1, 1)
        while d <= date(2026, 12, 31):
            assert CAL.is_working_day(d) == chinese_calendar.is_workday(d), d
            d += timedelta(days=1)

    @pytest.mark.parametrize(("year", "count"), [(2025, 248), (2026, 248), (2027, 261)])
    def test_working_days_in_year(self, year: int, count: int) -> None:
        """The number of working days in a year (2027 unknown: Monday-Friday)."""
        assert CAL.working_days_in_year(year) == count

    def test_known_years(self) -> None:
        """The package knows 2004-2026; 2027 is unconfirmed."""
        assert CAL.known_years == tuple(range(2004, 2027))
        assert CAL.is_known(D("2026-12-31"))
        assert not CAL.is_known(D("2027-01-01"))
        assert CAL.confirmed_between(D("2026-01-01"), D("2026-12-31"))
        assert not CAL.confirmed_between(D("2026-12-31"), D("2027-01-01"))
        assert CAL.unknown_years_between(D("2026-12-31"), D("2028-01-01")) == [2027, 2028]

    def test_makeup_and_holiday_names(self) -> None:
        """A make-up day is known as such; a holiday has its name."""
        assert CAL.is_makeup_day(D("2026-02-14"))
        assert not CAL.is_makeup_day(D("2026-02-13"))
        assert CAL.holiday_name(D("2026-10-03")) == "National Day"
        assert CAL.holiday_name(D("2026-10-08")) is None


class TestAddWorkingDays:
    @pytest.mark.parametrize(
        ("start", "n", "expected"),
        [
            ("2026-03-06", 1, "2026-03-09"),  # Fri -> Mon
            ("2026-03-06", 6, "2026-03-16"),
            ("2026-02-12", 2, "2026-02-14"),  # the make-up Saturday counts
            ("2026-02-12", 3, "2026-02-24"),  # then the Spring Festival break is skipped
            ("2026-09-30", 1, "2026-10-08"),
            ("2026-10-09", 1, "2026-10-10"),
            ("2026-12-30", 2, "2027-01-01"),  # into unknown 2027: Friday 1/1 counts (unconfirmed)
            ("2026-12-31", 2, "2027-01-04"),
            ("2002-12-31", 2, "2003-01-02"),  # entirely before the known years
            ("2003-12-31", 1, "2004-01-02"),  # from the fallback into the table (2004-01-01 off)
            ("2030-06-07", 1, "2030-06-10"),  # entirely after the known years
        ],
    )
    def test_nth_working_day_after(self, start: str, n: int, expected: str) -> None:
        """The day of the start is not counted; only working days count (Civil Code Art. 201)."""
        assert CAL.add_working_days(D(start), n) == D(expected)

    def test_n_must_be_positive(self) -> None:
        """Adding zero working days is a programming error."""
        with pytest.raises(ValueError, match="at least 1"):
            CAL.add_working_days(D("2026-03-06"), 0)

    def test_next_working_day_and_count(self) -> None:
        """next_working_day includes the day itself; counts are inclusive."""
        assert CAL.next_working_day(D("2026-10-01")) == D("2026-10-08")
        assert CAL.next_working_day(D("2026-10-08")) == D("2026-10-08")
        assert CAL.count_working_days(D("2026-10-01"), D("2026-10-10")) == 3
        assert CAL.count_working_days(D("2026-10-10"), D("2026-10-01")) == 0


class TestBreaks:
    def test_2026_breaks(self) -> None:
        """2026: Spring Festival 9, National Day 7, Labour Day 5 days; the others 3."""
        got = [(b.name, b.start, b.days) for b in CAL.breaks_in_year(2026)]
        assert got == [
            ("New Year's Day", D("2026-01-01"), 3),
            ("Spring Festival", D("2026-02-15"), 9),
            ("Tomb-sweeping Day", D("2026-04-04"), 3),
            ("Labour Day", D("2026-05-01"), 5),
            ("Dragon Boat Festival", D("2026-06-19"), 3),
            ("Mid-autumn Festival", D("2026-09-25"), 3),
            ("National Day", D("2026-10-01"), 7),
        ]
        assert all(b.confirmed for b in CAL.breaks_in_year(2026))

    def test_weekends_are_merged_in(self) -> None:
        """2025's Dragon Boat day off (Mon 6/2) merges with the weekend before into 3 days."""
        b = CAL.break_containing(D("2025-05-31"))
        assert b is not None
        assert (b.start, b.end, b.days) == (D("2025-05-31"), D("2025-06-02"), 3)

    def test_two_holidays_in_one_break(self) -> None:
        """2025: National Day and Mid-autumn form one 8-day break with both names."""
        b = CAL.break_containing(D("2025-10-06"))
        assert b is not None
        assert b.days == 8
        assert b.names == ("National Day", "Mid-autumn Festival")
        assert b.describe() == "8-day National Day / Mid-autumn Festival break (2025-10-01..2025-10-08)"

    def test_break_across_new_year(self) -> None:
        """A break spanning two years is one break (2023-12-30..2024-01-01)."""
        b = CAL.break_containing(D("2024-01-01"))
        assert b is not None
        assert (b.start, b.end) == (D("2023-12-30"), D("2024-01-01"))

    @pytest.mark.parametrize("day", ["2026-03-07", "2026-03-09", "2026-10-08", "2027-01-02"])
    def test_plain_days_are_in_no_break(self, day: str) -> None:
        """A plain weekend, a working day and an unknown year's weekend belong to no break."""
        assert CAL.break_containing(D(day)) is None

    def test_breaks_between(self) -> None:
        """Breaks overlapping a range, in order; an empty range has none."""
        got = CAL.breaks_between(D("2026-05-05"), D("2026-06-19"))
        assert [b.name for b in got] == ["Labour Day", "Dragon Boat Festival"]
        assert CAL.breaks_between(D("2026-03-01"), D("2026-03-31")) == ()

    def test_a_break_next_to_an_unknown_year_is_unconfirmed(self) -> None:
        """A break ending on Dec 31 of the last known year may grow: its length is unconfirmed."""
        y = CalendarYear(year=2030, holidays={D("2030-12-31"): "Test"})
        b = BusinessCalendar([y]).break_containing(D("2030-12-31"))
        assert b is not None
        assert not b.confirmed


class TestWorkingPeriod:
    @pytest.mark.parametrize(
        ("instant", "inside"),
        [
            ("2026-03-06T09:00:00+08:00", True),
            ("2026-03-06T08:59:59+08:00", False),
            ("2026-03-06T15:59:59+08:00", True),
            ("2026-03-06T16:00:00+08:00", False),  # 16:00 itself is non-working
            ("2026-03-07T10:00:00+08:00", False),  # Saturday
            ("2026-02-14T10:00:00+08:00", True),  # make-up Saturday
            ("2026-03-06T01:00:00+00:00", True),  # 09:00 in Tianjin
        ],
    )
    def test_in_working_period(self, instant: str, inside: bool) -> None:
        """[09:00, 16:00) Tianjin time on a working day, whatever offset the instant carries."""
        assert CAL.in_working_period(at(instant), start=time(9), end=time(16)) is inside

    @pytest.mark.parametrize(
        ("instant", "expected"),
        [
            ("2026-03-06T08:00:00+08:00", "2026-03-06T09:00:00+08:00"),
            ("2026-03-06T09:00:00+08:00", "2026-03-06T09:00:00+08:00"),
            ("2026-03-06T09:00:01+08:00", "2026-03-09T09:00:00+08:00"),
            ("2026-03-06T16:00:00+08:00", "2026-03-09T09:00:00+08:00"),
            ("2026-09-30T16:30:00+08:00", "2026-10-08T09:00:00+08:00"),
            ("2026-10-09T22:00:00+08:00", "2026-10-10T09:00:00+08:00"),
            ("2026-12-31T16:00:00+08:00", "2027-01-01T09:00:00+08:00"),
        ],
    )
    def test_next_work_start(self, instant: str, expected: str) -> None:
        """The earliest 09:00 of a working day at or after the instant."""
        assert CAL.next_work_start(at(instant), start=time(9)) == at(expected)

    def test_naive_instant_is_refused(self) -> None:
        """A naive datetime is an error, never silently taken as local time."""
        with pytest.raises(InvalidInstant, match="naive"):
            CAL.next_work_start(datetime(2026, 3, 6, 9), start=time(9))  # noqa: DTZ001

    def test_result_is_tianjin_time(self) -> None:
        """Results carry +08:00 whatever the input offset."""
        w = CAL.next_work_start(datetime(2026, 3, 6, 12, tzinfo=UTC), start=time(9))
        assert w.utcoffset() == timedelta(hours=8)


class TestConstruction:
    def test_duplicate_year(self) -> None:
        """Two calendars for one year are refused."""
        y = CalendarYear(year=2030, holidays={D("2030-01-01"): "New Year's Day"})
        with pytest.raises(CalendarError, match="2030"):
            BusinessCalendar([y, y])

    def test_makeup_day_must_be_a_weekend_day(self) -> None:
        """A make-up working day on a weekday is refused."""
        with pytest.raises(ValidationError, match="Saturday or Sunday"):
            CalendarYear(year=2030, holidays={}, makeup_days={D("2030-01-07"): "X"})

    def test_dates_inside_the_year(self) -> None:
        """A day of another year is refused."""
        with pytest.raises(ValidationError, match="outside the year 2030"):
            CalendarYear(year=2030, holidays={D("2031-01-01"): "X"})

    def test_empty_calendar_is_monday_to_friday(self) -> None:
        """With no data at all, every year falls back to Monday-Friday and has no breaks."""
        cal = BusinessCalendar([])
        assert cal.working_days_in_year(2026) == 261
        assert cal.add_working_days(D("2026-10-01"), 1) == D("2026-10-02")
        assert cal.breaks == ()

    def test_gap_year_falls_back(self) -> None:
        """A year between two known years without data of its own is Monday-Friday, unconfirmed."""
        years = {y.year: y for y in package_years()}
        cal = BusinessCalendar([years[2024], years[2026]])
        assert not cal.is_year_known(2025)
        assert cal.is_working_day(D("2025-10-01"))  # National Day, but 2025 is unknown here
        assert not cal.is_working_day(D("2026-10-01"))

    def test_holiday_ranges(self) -> None:
        """A year's holidays read back as ranges of one name."""
        y = {y.year: y for y in package_years()}[2025]
        assert y.holiday_ranges()[-3:] == [
            (D("2025-10-01"), D("2025-10-05"), "National Day"),
            (D("2025-10-06"), D("2025-10-06"), "Mid-autumn Festival"),
            (D("2025-10-07"), D("2025-10-08"), "National Day"),
        ]


class TestSharedCalendars:
    """Issue 12: a calendar built per order kept every order's tables alive in the deadline caches
    (keyed by calendar, hashed by identity) and no order ever hit another's entries."""

    def test_orders_loading_the_same_years_share_one_calendar_and_its_cache_entries(self) -> None:
        years = package_years()
        first = BusinessCalendar.shared(years)
        again = BusinessCalendar.shared([CalendarYear.model_validate(y.model_dump()) for y in reversed(years)])
        assert again is first, "the same content, in any order, must give the same calendar"
        deadlines._after_the_wait.cache_clear()
        saturday = date(2026, 11, 28)
        args = (time(9), 5, saturday, False)
        deadlines._after_the_wait(first, *args)
        deadlines._after_the_wait(again, *args)
        assert deadlines._after_the_wait.cache_info().hits == 1

    def test_another_content_is_another_calendar(self) -> None:
        years = package_years()
        first = BusinessCalendar.shared(years)
        fewer = BusinessCalendar.shared(years[:-1])
        assert fewer is not first
        assert BusinessCalendar.shared(years[:-1]) is fewer
