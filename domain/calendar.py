"""The business calendar: working days, the working period and holiday breaks (Article 8.1).

A working day is a weekday that is not a statutory holiday, or a weekend day designated as a
make-up working day (调休上班). The calendar is built from data, one `CalendarYear` per year whose
schedule is known (from the maintained library at first, then from the database, where operators
enter newly announced years). A date in a year without data falls back to Monday-Friday, and
anything computed from such a day is *unconfirmed*.

`BusinessCalendar` is pure (no I/O, no clock) and precomputes at construction: a per-day table
over the known years (plus one year of padding on each side), the sorted ordinals of its working
days, and the holiday breaks as sorted intervals. Every query is then O(1) or O(log n); outside the
table, Monday-Friday arithmetic is closed-form.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta, timezone
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.errors import CalendarError, InvalidInstant

#: Local time of every rule (Article 8.1). China has had no daylight saving time since 1991, so a
#: fixed offset is exact and needs no tz database.
SHANGHAI: Final = timezone(timedelta(hours=8), "Asia/Shanghai")

_DAY_NAMES: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def to_local(instant: datetime) -> datetime:
    """``instant`` in Asia/Shanghai local time (+08:00).

    Raises:
        InvalidInstant: ``instant`` is naive (has no offset).
    """
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise InvalidInstant(
            f"{instant.isoformat()} is a naive datetime (no offset); allowed: an aware ISO-8601 "
            "instant, e.g. 2026-11-27T10:15:00+08:00"
        )
    return instant.astimezone(SHANGHAI)


def day_name(d: date) -> str:
    """English three-letter weekday of ``d`` (independent of the process locale)."""
    return _DAY_NAMES[d.weekday()]


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CalendarYear(_Value):
    """The announced schedule of one year (Article 8.1): days off and make-up working days."""

    year: int = Field(ge=1, le=9998, description="The calendar year.")
    holidays: dict[date, str] = Field(
        description="Every announced day off (weekend days inside the announced range included), "
        "with the holiday's name."
    )
    makeup_days: dict[date, str] = Field(
        default_factory=dict,
        description="Weekend days designated as working days (调休上班), with the holiday's name.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> CalendarYear:
        for kind, days in (("holiday", self.holidays), ("make-up day", self.makeup_days)):
            for d, name in days.items():
                if d.year != self.year:
                    raise ValueError(f"{kind} {d.isoformat()} lies outside the year {self.year}")
                if not name.strip():
                    raise ValueError(f"{kind} {d.isoformat()} has no name")
        for d in self.makeup_days:
            if d.weekday() < 5:
                raise ValueError(
                    f"make-up day {d.isoformat()} is a weekday ({day_name(d)}); a make-up "
                    "working day must be a Saturday or Sunday"
                )
            if d in self.holidays:
                raise ValueError(f"{d.isoformat()} is both a holiday and a make-up day")
        return self

    def holiday_ranges(self) -> list[tuple[date, date, str]]:
        """The holidays as (first, last, name): maximal runs of consecutive days of one name."""
        out: list[tuple[date, date, str]] = []
        for d in sorted(self.holidays):
            name = self.holidays[d]
            if out and out[-1][2] == name and out[-1][1] + timedelta(days=1) == d:
                out[-1] = (out[-1][0], d, name)
            else:
                out.append((d, d, name))
        return out


class HolidayBreak(_Value):
    """A maximal run of consecutive non-working days holding >= 1 statutory holiday (Art. 8.1).

    Weekends next to the holidays are merged in; the length in days decides the long-break rule.
    """

    start: date = Field(description="First day of the break.")
    end: date = Field(description="Last day of the break (inclusive).")
    names: tuple[str, ...] = Field(description="Holiday names in the break, in order of first day.")
    confirmed: bool = Field(
        description="The break and the day on each side of it lie in years with known data, so its length is certain."
    )

    @property
    def days(self) -> int:
        """Length of the break in calendar days."""
        return (self.end - self.start).days + 1

    @property
    def name(self) -> str:
        """The holiday names joined for a person, e.g. `National Day / Mid-autumn Festival`."""
        return " / ".join(self.names)

    def describe(self) -> str:
        """E.g. `7-day National Day break (2026-10-01..2026-10-07)`."""
        return f"{self.days}-day {self.name} break ({self.start}..{self.end})"


# -- Monday-Friday arithmetic on proleptic ordinals (date(1, 1, 1) is a Monday, ordinal 1) --------


def _weekdays_upto(o: int) -> int:
    """How many Monday-Friday days have an ordinal in [1, o]."""
    weeks, rest = divmod(o - 1, 7)
    return weeks * 5 + min(rest + 1, 5)


def _nth_weekday(m: int) -> int:
    """The ordinal of the m-th Monday-Friday day counted from ordinal 1."""
    weeks, rest = divmod(m - 1, 5)
    return 1 + weeks * 7 + rest


#: Calendars by content (`BusinessCalendar.shared`), oldest first; a handful of versions at most.
_SHARED: dict[tuple[object, ...], BusinessCalendar] = {}
_SHARED_MAX: Final = 16


class BusinessCalendar:
    """Working days, the working period and holiday breaks, precomputed from `CalendarYear` data.

    Article 8.1: a working day is a weekday that is not a statutory holiday, or a make-up working
    day; years without data fall back to Monday-Friday and count as unconfirmed.
    """

    def __init__(self, years: Iterable[CalendarYear]) -> None:
        """Build the tables.

        Args:
            years: One entry per known year.

        Raises:
            CalendarError: two entries for the same year.
        """
        by_year: dict[int, CalendarYear] = {}
        for y in years:
            if y.year in by_year:
                raise CalendarError(f"two calendars for the year {y.year}")
            by_year[y.year] = y
        self._years: dict[int, CalendarYear] = dict(sorted(by_year.items()))
        self._known: frozenset[int] = frozenset(by_year)
        if by_year:
            lo = date(min(by_year) - 1 if min(by_year) > 1 else 1, 1, 1).toordinal()
            hi = date(max(by_year) + 1, 12, 31).toordinal() + 1
        else:
            lo = hi = date(2000, 1, 1).toordinal()
        self._lo, self._hi = lo, hi

        holidays: dict[int, str] = {}
        makeup: dict[int, str] = {}
        for y in by_year.values():
            holidays.update((d.toordinal(), n) for d, n in y.holidays.items())
            makeup.update((d.toordinal(), n) for d, n in y.makeup_days.items())
        self._holiday_names: dict[int, str] = holidays
        self._makeup: dict[int, str] = makeup

        work = bytearray(hi - lo)
        for o in range(lo, hi):
            work[o - lo] = o in makeup or ((o + 6) % 7 < 5 and o not in holidays)
        self._work = bytes(work)
        self._work_ords: list[int] = [o for o in range(lo, hi) if work[o - lo]]
        self._w_lo = _weekdays_upto(lo - 1)
        self._w_hi = _weekdays_upto(hi - 1)
        self._n_table = len(self._work_ords)

        self._breaks: list[HolidayBreak] = self._find_breaks()
        self._break_starts = [b.start.toordinal() for b in self._breaks]
        self._break_ends = [b.end.toordinal() for b in self._breaks]

    @classmethod
    def shared(cls, years: Iterable[CalendarYear]) -> BusinessCalendar:
        """One calendar per distinct content, shared by every order that loads the same data.

        A worker runs thousands of orders on the same few calendar versions; building each once
        saves the tables' memory, and lets the deadline arithmetic's caches (keyed by calendar)
        hit across orders instead of holding one dead calendar per order.
        """
        data = tuple(years)
        key = tuple(
            (y.year, tuple(sorted(y.holidays.items())), tuple(sorted(y.makeup_days.items())))
            for y in sorted(data, key=lambda y: y.year)
        )
        found = _SHARED.get(key)
        if found is None:
            found = cls(data)
            if len(_SHARED) >= _SHARED_MAX:  # an old version nobody loads any more
                _SHARED.pop(next(iter(_SHARED)))
            _SHARED[key] = found
        return found

    def _find_breaks(self) -> list[HolidayBreak]:
        out: list[HolidayBreak] = []
        o = self._lo
        while o < self._hi:
            if self._work[o - self._lo]:
                o += 1
                continue
            start = o
            while o < self._hi and not self._work[o - self._lo]:
                o += 1
            names: list[str] = []
            for p in range(start, o):
                n = self._holiday_names.get(p)
                if n is not None and n not in names:
                    names.append(n)
            if names:
                first, last = date.fromordinal(start), date.fromordinal(o - 1)
                out.append(
                    HolidayBreak(
                        start=first,
                        end=last,
                        names=tuple(names),
                        confirmed=self.confirmed_between(first - timedelta(days=1), last + timedelta(days=1)),
                    )
                )
        return out

    # -- the data ----------------------------------------------------------------------------

    @property
    def known_years(self) -> tuple[int, ...]:
        """The years with announced data, ascending."""
        return tuple(self._years)

    def year(self, year: int) -> CalendarYear | None:
        """The data of ``year``, or `None` when the year is not known."""
        return self._years.get(year)

    def is_year_known(self, year: int) -> bool:
        """Whether ``year``'s schedule is known (else it falls back to Monday-Friday)."""
        return year in self._known

    def is_known(self, d: date) -> bool:
        """Whether ``d`` lies in a year with known data (its status is confirmed)."""
        return d.year in self._known

    def confirmed_between(self, first: date, last: date) -> bool:
        """Whether every day in [first, last] lies in a known year."""
        return all(y in self._known for y in range(first.year, last.year + 1))

    def unknown_years_between(self, first: date, last: date) -> list[int]:
        """The years in [first, last] without data (Monday-Friday assumed)."""
        return [y for y in range(first.year, last.year + 1) if y not in self._known]

    # -- days --------------------------------------------------------------------------------

    def is_working_day(self, d: date) -> bool:
        """Article 8.1: a working weekday that is no holiday, or a make-up working day."""
        o = d.toordinal()
        if self._lo <= o < self._hi:
            return bool(self._work[o - self._lo])
        return (o + 6) % 7 < 5

    def holiday_name(self, d: date) -> str | None:
        """The statutory holiday ``d`` belongs to, or `None`."""
        return self._holiday_names.get(d.toordinal())

    def is_makeup_day(self, d: date) -> bool:
        """Whether ``d`` is a weekend day designated as a working day (调休上班)."""
        return d.toordinal() in self._makeup

    def _cum(self, o: int) -> int:
        """How many working days have an ordinal <= o (counted from ordinal 1)."""
        if o < self._lo:
            return _weekdays_upto(o)
        if o < self._hi:
            return self._w_lo + bisect_right(self._work_ords, o)
        return self._w_lo + self._n_table + _weekdays_upto(o) - self._w_hi

    def _nth(self, m: int) -> int:
        """The ordinal of the m-th working day counted from ordinal 1."""
        if m <= self._w_lo:
            return _nth_weekday(m)
        if m <= self._w_lo + self._n_table:
            return self._work_ords[m - self._w_lo - 1]
        return _nth_weekday(m - self._w_lo - self._n_table + self._w_hi)

    def add_working_days(self, d: date, n: int) -> date:
        """The n-th working day after ``d``; ``d`` itself is not counted (Civil Code Art. 201).

        Args:
            d: The day the period starts on (not counted).
            n: How many working days, at least 1.

        Raises:
            ValueError: ``n`` is below 1.
        """
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        return date.fromordinal(self._nth(self._cum(d.toordinal()) + n))

    def working_days_after(self, d: date, n: int) -> list[date]:
        """The first ``n`` working days after ``d`` (``d`` not counted), in order."""
        base = self._cum(d.toordinal())
        return [date.fromordinal(self._nth(base + i)) for i in range(1, n + 1)]

    def next_working_day(self, d: date) -> date:
        """The first working day on or after ``d``."""
        return date.fromordinal(self._nth(self._cum(d.toordinal() - 1) + 1))

    def count_working_days(self, first: date, last: date) -> int:
        """How many working days lie in [first, last] (0 when ``last`` < ``first``)."""
        if last < first:
            return 0
        return self._cum(last.toordinal()) - self._cum(first.toordinal() - 1)

    def working_days_in_year(self, year: int) -> int:
        """How many working days ``year`` has."""
        return self.count_working_days(date(year, 1, 1), date(year, 12, 31))

    # -- holiday breaks ----------------------------------------------------------------------

    @property
    def breaks(self) -> tuple[HolidayBreak, ...]:
        """Every holiday break, in date order."""
        return tuple(self._breaks)

    def breaks_between(self, first: date, last: date) -> tuple[HolidayBreak, ...]:
        """The holiday breaks with at least one day in [first, last], in date order."""
        i = bisect_left(self._break_ends, first.toordinal())
        j = bisect_right(self._break_starts, last.toordinal())
        return tuple(self._breaks[i:j]) if i < j else ()

    def breaks_in_year(self, year: int) -> tuple[HolidayBreak, ...]:
        """The holiday breaks with at least one day in ``year``."""
        return self.breaks_between(date(year, 1, 1), date(year, 12, 31))

    def break_containing(self, d: date) -> HolidayBreak | None:
        """The holiday break ``d`` belongs to, or `None`."""
        o = d.toordinal()
        i = bisect_right(self._break_starts, o) - 1
        if i >= 0 and self._break_ends[i] >= o:
            return self._breaks[i]
        return None

    # -- the working period ------------------------------------------------------------------

    def in_working_period(self, instant: datetime, *, start: time, end: time) -> bool:
        """Whether ``instant`` lies in [start, end) local time of a working day (Article 8.1).

        Raises:
            InvalidInstant: ``instant`` is naive.
        """
        local = to_local(instant)
        return start <= local.time() < end and self.is_working_day(local.date())

    def next_work_start(self, instant: datetime, *, start: time) -> datetime:
        """The earliest work start (``start`` on a working day) at or after ``instant`` (8.1).

        Raises:
            InvalidInstant: ``instant`` is naive.
        """
        local = to_local(instant)
        d = local.date()
        if not (local.time() <= start and self.is_working_day(d)):
            d = self.add_working_days(d, 1)
        return datetime.combine(d, start, tzinfo=SHANGHAI)
