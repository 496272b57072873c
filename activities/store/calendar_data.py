"""Calendar data from the maintained library ``chinesecalendar`` (the only module importing it).

Article 8.1: the calendar comes from a maintained library for the years it covers, is seeded into
the database, and the database owns it afterwards. This module turns the package's tables into one
`CalendarYear` per year it knows; it does no I/O.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from importlib.metadata import PackageNotFoundError, version

import chinese_calendar
from chinese_calendar import constants

from domain.calendar import BusinessCalendar, CalendarYear


def source() -> str:
    """The library and version the data comes from, e.g. `chinesecalendar 1.11.0`."""
    try:
        return f"chinesecalendar {version('chinesecalendar')}"
    except PackageNotFoundError:  # pragma: no cover - installed from a checkout
        return f"chinesecalendar {getattr(chinese_calendar, '__version__', '?')}"


def package_years() -> list[CalendarYear]:
    """One `CalendarYear` per year the package knows, ascending.

    The package lists every day off of a year (weekend days inside a break included) in
    ``holidays`` and the make-up working days in ``workdays``, each with the holiday's name.
    """
    holidays: dict[int, dict[date, str]] = {}
    makeup: dict[int, dict[date, str]] = {}
    raw_holidays: dict[date, str] = constants.holidays
    raw_workdays: dict[date, str] = constants.workdays
    for d, name in raw_holidays.items():
        holidays.setdefault(d.year, {})[d] = str(name)
    for d, name in raw_workdays.items():
        makeup.setdefault(d.year, {})[d] = str(name)
    years = sorted(set(holidays) | set(makeup))
    return [CalendarYear(year=y, holidays=holidays.get(y, {}), makeup_days=makeup.get(y, {})) for y in years]


@cache
def package_calendar() -> BusinessCalendar:
    """The `BusinessCalendar` of the package's data (built once per process)."""
    return BusinessCalendar(package_years())
