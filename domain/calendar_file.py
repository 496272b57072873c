"""The calendar file: how an operator enters a newly announced year (Article 8.1).

The State Council announces each year's holiday schedule around November. An operator types it
into a small UTF-8 text file and runs ``hotline calendar import FILE``. The file describes one whole
year at once; a file with any error is refused whole (every problem listed with its line number),
and nothing changes.

Format, one statement per line; blank lines and lines starting with ``#`` are ignored::

    year 2027
    source 国务院办公厅关于2027年部分节假日安排的通知 (国办发明电〔2026〕N号)
    note entered from the State Council notice of 2026-11-XX
    holiday 2027-01-01..2027-01-03 New Year's Day
    holiday 2027-04-05 Tomb-sweeping Day
    workday 2027-02-20 Spring Festival

- ``year YYYY``: required, exactly once, before any ``holiday`` or ``workday`` line.
- ``source TEXT`` / ``note TEXT``: optional, at most once each; stored with the version.
- ``holiday FIRST..LAST NAME`` or ``holiday DAY NAME``: days off (weekend days inside the announced
  range included), inclusive, with the holiday's name (the rest of the line, required).
- ``workday DAY NAME``: a make-up working day (调休上班), with the name of the holiday it makes
  up for.

Rules checked: dates are real ISO dates (``YYYY-MM-DD``) inside the year; ``FIRST <= LAST``;
holiday ranges do not overlap; a make-up day is a Saturday or Sunday and no holiday; no day is
listed twice; at least one holiday. Days not listed follow Monday-Friday. Everything is checked
before anything is stored: the year replaces its previous version only as a whole.
"""

from __future__ import annotations

from datetime import date, timedelta

from pydantic import BaseModel, ConfigDict, Field

from domain.calendar import CalendarYear, day_name
from domain.errors import CalendarError


class CalendarFileError(CalendarError):
    """A calendar file was refused whole; ``problems`` holds (line number, reason) pairs."""

    def __init__(self, problems: list[tuple[int, str]], *, filename: str = "<file>") -> None:
        """Build the message from ``problems`` (line 0 means the file as a whole)."""
        self.problems = problems
        self.filename = filename
        lines = [f"{filename}:{n}: {reason}" if n else f"{filename}: {reason}" for n, reason in problems]
        super().__init__("calendar file refused, nothing was imported:\n" + "\n".join(f"  {x}" for x in lines))


class CalendarFile(BaseModel):
    """A parsed, valid calendar file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    calendar: CalendarYear = Field(description="The year's schedule.")
    source: str = Field(default="", description="Where the schedule comes from (the notice).")
    note: str = Field(default="", description="Anything the operator wants to record.")


def _parse_day(token: str, year: int | None) -> date:
    try:
        d = date.fromisoformat(token)
    except ValueError:
        raise ValueError(f"{token!r} is not a date; allowed: a real date as YYYY-MM-DD") from None
    if len(token) != 10:
        raise ValueError(f"{token!r} is not written as YYYY-MM-DD")
    if year is not None and d.year != year:
        raise ValueError(f"{token} lies outside the year {year}; every date must be in {year}")
    return d


def parse_calendar_file(text: str, *, filename: str = "<file>") -> CalendarFile:
    """Parse and check a calendar file (format in the module docstring).

    Args:
        text: The file's content.
        filename: How messages name the file.

    Raises:
        CalendarFileError: with every problem found, each with its line number and reason.
    """
    problems: list[tuple[int, str]] = []
    year: int | None = None
    year_line = 0
    singles: dict[str, tuple[int, str]] = {}
    ranges: list[tuple[int, date, date, str]] = []  # (line, first, last, name)
    workdays: list[tuple[int, date, str]] = []

    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        rest = rest.strip()
        try:
            if keyword == "year":
                if year_line:
                    raise ValueError(f"a second `year` line (the first is line {year_line})")
                if not (rest.isdigit() and len(rest) == 4 and 1 <= int(rest) <= 9998):
                    raise ValueError(f"{rest!r} is not a year; allowed: four digits, e.g. 2027")
                year, year_line = int(rest), n
            elif keyword in ("source", "note"):
                if keyword in singles:
                    raise ValueError(f"a second `{keyword}` line (first on line {singles[keyword][0]})")
                if not rest:
                    raise ValueError(f"`{keyword}` needs a text")
                singles[keyword] = (n, rest)
            elif keyword in ("holiday", "workday"):
                if not year_line:
                    raise ValueError(f"`{keyword}` before the `year` line; put `year YYYY` first")
                span, _, name = rest.partition(" ")
                name = name.strip()
                if keyword == "holiday":
                    first_s, sep, last_s = span.partition("..")
                    first = _parse_day(first_s, year)
                    last = _parse_day(last_s, year) if sep else first
                    if last < first:
                        raise ValueError(f"the range {span} ends before it starts")
                    if not name:
                        raise ValueError("a holiday needs a name after its dates")
                    ranges.append((n, first, last, name))
                else:
                    if ".." in span:
                        raise ValueError("a `workday` line names one day, not a range")
                    d = _parse_day(span, year)
                    if d.weekday() < 5:
                        raise ValueError(
                            f"{d} is a weekday ({day_name(d)}); a make-up working day must be a Saturday or Sunday"
                        )
                    if not name:
                        raise ValueError("a make-up working day needs the holiday's name")
                    workdays.append((n, d, name))
            else:
                raise ValueError(f"unknown statement {keyword!r}; allowed: year, source, note, holiday, workday")
        except ValueError as e:
            problems.append((n, str(e)))

    if not year_line:
        problems.append((0, "no `year YYYY` line; a calendar file describes one whole year"))
    elif not ranges and not any(r for r in problems if r[0] > year_line):
        problems.append((0, f"no holiday for {year}; a year's schedule lists its holidays"))

    holidays: dict[date, str] = {}
    taken: dict[date, int] = {}
    for n, first, last, name in sorted(ranges, key=lambda r: r[0]):
        clash = [d for d in _days(first, last) if d in taken]
        if clash:
            problems.append((n, f"{clash[0]} is already a holiday on line {taken[clash[0]]}; ranges overlap"))
            continue
        for d in _days(first, last):
            taken[d] = n
            holidays[d] = name
    makeup: dict[date, str] = {}
    for n, d, name in workdays:
        if d in taken:
            problems.append((n, f"{d} is a holiday on line {taken[d]}; it cannot be a workday too"))
        elif d in makeup:
            problems.append((n, f"{d} is listed twice as a make-up working day"))
        else:
            makeup[d] = name
    if problems:
        raise CalendarFileError(sorted(problems), filename=filename)
    assert year is not None
    return CalendarFile(
        calendar=CalendarYear(year=year, holidays=holidays, makeup_days=makeup),
        source=singles.get("source", (0, ""))[1],
        note=singles.get("note", (0, ""))[1],
    )


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def dump_calendar_file(cal: CalendarYear, *, source: str = "", note: str = "") -> str:
    """Write ``cal`` in the calendar file format (`parse_calendar_file` reads it back)."""
    out = [f"year {cal.year}"]
    if source:
        out.append(f"source {source}")
    if note:
        out.append(f"note {note}")
    for first, last, name in cal.holiday_ranges():
        span = first.isoformat() if first == last else f"{first}..{last}"
        out.append(f"holiday {span} {name}")
    for d in sorted(cal.makeup_days):
        out.append(f"workday {d} {cal.makeup_days[d]}")
    return "\n".join(out) + "\n"
