"""The calendar file an operator imports (docs/calendar-format.md)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from activities.store.calendar_data import package_years
from domain.calendar import BusinessCalendar
from domain.calendar_file import CalendarFileError, dump_calendar_file, parse_calendar_file

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "calendar-2027.txt"

GOOD = """\
# a comment
year 2030
source 国务院办公厅通知
note entered by hand

holiday 2030-01-01 New Year's Day
holiday 2030-10-01..2030-10-07 National Day
workday 2030-09-29 National Day
"""


class TestParse:
    def test_good_file(self) -> None:
        """A valid file gives the year's holidays, make-up days, source and note."""
        f = parse_calendar_file(GOOD)
        assert f.calendar.year == 2030
        assert f.source == "国务院办公厅通知"
        assert f.note == "entered by hand"
        assert len(f.calendar.holidays) == 8
        assert f.calendar.holidays[date(2030, 10, 4)] == "National Day"
        assert f.calendar.makeup_days == {date(2030, 9, 29): "National Day"}

    def test_example_file_is_valid_and_labelled(self) -> None:
        """The shipped 2027 example parses and says plainly that it is an example."""
        text = EXAMPLE.read_text(encoding="utf-8")
        assert "EXAMPLE ONLY" in text
        f = parse_calendar_file(text)
        assert f.calendar.year == 2027
        assert "EXAMPLE" in f.source
        breaks = BusinessCalendar([f.calendar]).breaks_in_year(2027)
        assert [b.days for b in breaks if b.days >= 5] == [9, 5, 7]

    @pytest.mark.parametrize("year", [y.year for y in package_years()])
    def test_round_trip_of_every_package_year(self, year: int) -> None:
        """Every year of the package written as a file reads back identical."""
        cal = next(y for y in package_years() if y.year == year)
        assert parse_calendar_file(dump_calendar_file(cal, source="s")).calendar == cal


class TestRefused:
    @pytest.mark.parametrize(
        ("text", "line", "reason"),
        [
            ("year 2030\nholiday 2030-02-30 X\n", 2, "not a date"),
            ("year 2030\nholiday 2031-01-01 X\n", 2, "outside the year 2030"),
            ("year 2030\nholiday 2030-01-05..2030-01-01 X\n", 2, "ends before it starts"),
            ("year 2030\nholiday 2030-01-01\n", 2, "needs a name"),
            (
                "year 2030\nholiday 2030-01-01..2030-01-03 A\nholiday 2030-01-03 B\n",
                3,
                "already a holiday on line 2",
            ),
            ("year 2030\nholiday 2030-01-01 A\nworkday 2030-01-07 A\n", 3, "Saturday or Sunday"),
            ("year 2030\nholiday 2030-01-05 A\nworkday 2030-01-05 A\n", 3, "cannot be a workday"),
            (
                "year 2030\nholiday 2030-01-01 A\nworkday 2030-01-05 A\nworkday 2030-01-05 A\n",
                4,
                "listed twice",
            ),
            ("year 2030\nholiday 2030-01-01 A\nfrob 1\n", 3, "unknown statement 'frob'"),
            ("holiday 2030-01-01 A\nyear 2030\n", 1, "before the `year` line"),
            ("year 2030\nyear 2031\nholiday 2030-01-01 A\n", 2, "second `year`"),
            ("year 20x0\n", 1, "not a year"),
            ("year 2030\nholiday 2030-1-1 A\n", 2, "not a date"),
            ("year 2030\nworkday 2030-01-05..2030-01-06 A\nholiday 2030-01-01 A\n", 2, "one day"),
        ],
    )
    def test_error_names_line_and_reason(self, text: str, line: int, reason: str) -> None:
        """Each mistake is reported with its line number and what is allowed."""
        with pytest.raises(CalendarFileError) as e:
            parse_calendar_file(text, filename="cal.txt")
        assert any(n == line and reason in r for n, r in e.value.problems), e.value.problems
        assert f"cal.txt:{line}: " in str(e.value)
        assert "nothing was imported" in str(e.value)

    def test_missing_year_and_holidays(self) -> None:
        """A file without a year, or a year without holidays, is refused as a whole."""
        with pytest.raises(CalendarFileError, match="no `year YYYY` line"):
            parse_calendar_file("# empty\n")
        with pytest.raises(CalendarFileError, match="no holiday for 2030"):
            parse_calendar_file("year 2030\n")

    def test_every_problem_is_listed(self) -> None:
        """All errors of a file are reported at once, in line order."""
        text = "year 2030\nholiday 2030-13-01 A\nworkday 2030-01-07 B\nfrob\n"
        with pytest.raises(CalendarFileError) as e:
            parse_calendar_file(text)
        assert [n for n, _ in e.value.problems] == [2, 3, 4]
