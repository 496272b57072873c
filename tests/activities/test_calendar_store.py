"""The calendar in PostgreSQL: seeded once from the package, then versioned per year (Art. 8.1)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import asyncpg
import pytest

from activities.store import calendar_store
from activities.store.calendar_data import package_calendar
from activities.store.db import apply_migrations
from domain.calendar_file import parse_calendar_file

EXAMPLE_2027 = Path(__file__).parents[2] / "docs" / "examples" / "calendar-2027.txt"


async def fresh_database(database_url: str) -> str:
    """A new, migrated database of this test's own on the session's server."""
    name = f"cal_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = database_url.rsplit("/", 1)[0] + f"/{name}"
    conn = await asyncpg.connect(url)
    try:
        await apply_migrations(conn)
    finally:
        await conn.close()
    return url


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(await fresh_database(database_url), min_size=1, max_size=4)
    yield pool
    await pool.close()


def file_for(year: int, *extra: str) -> str:
    lines = [
        f"year {year}",
        "source test notice",
        f"holiday {year}-10-01..{year}-10-07 National Day",
    ]
    return "\n".join([*lines, *extra]) + "\n"


class TestSeed:
    async def test_seed_then_load_equals_the_package(self, db: asyncpg.Pool) -> None:
        """Seeded once, the database's calendar says what the package says, day by day."""
        seeded = await calendar_store.seed_from_package(db)
        assert seeded == list(range(2004, 2027))
        assert await calendar_store.seed_from_package(db) == []  # only years not present yet
        cal = await calendar_store.load_calendar(db)
        pkg = package_calendar()
        assert cal.known_years == pkg.known_years
        d = date(2004, 1, 1)
        while d <= date(2026, 12, 31):
            assert cal.is_working_day(d) == pkg.is_working_day(d), d
            d += timedelta(days=1)
        assert cal.breaks == pkg.breaks

    async def test_seed_never_overwrites_the_database(self, db: asyncpg.Pool) -> None:
        """A year entered before the seed stays as entered: the database owns the data."""
        await calendar_store.import_year(db, parse_calendar_file(file_for(2026)), entered_by="ops")
        seeded = await calendar_store.seed_from_package(db)
        assert 2026 not in seeded
        cal = await calendar_store.load_calendar(db)
        assert cal.is_working_day(date(2026, 2, 16))  # the package's Spring Festival is not there
        versions = await calendar_store.year_versions(db, 2026)
        assert [(v.version, v.entered_by) for v in versions] == [(1, "ops")]

    async def test_seed_records_its_source(self, db: asyncpg.Pool) -> None:
        """Seeded versions say who (seed) and from what (the package and its version)."""
        await calendar_store.seed_from_package(db)
        shown = await calendar_store.show_year(db, 2026)
        assert shown is not None
        assert shown.version.entered_by == "seed"
        assert shown.version.source.startswith("chinesecalendar ")
        assert shown.calendar.makeup_days[date(2026, 10, 10)] == "National Day"

    async def test_accepts_a_connection(self, db: asyncpg.Pool) -> None:
        """The functions also work on a connection the caller holds (e.g. the dev launcher)."""
        async with db.acquire() as conn:
            assert len(await calendar_store.seed_from_package(conn)) == 23
            assert (await calendar_store.load_calendar(conn)).is_year_known(2026)


class TestImport:
    async def test_new_year(self, db: asyncpg.Pool) -> None:
        """A new year becomes version 1, with who entered it; the calendar then knows it."""
        await calendar_store.seed_from_package(db)
        parsed = parse_calendar_file(EXAMPLE_2027.read_text(encoding="utf-8"))
        result = await calendar_store.import_year(db, parsed, entered_by="Wang Fang")
        assert (result.version.version, result.replaced_version) == (1, None)
        assert result.message == ("calendar 2027: stored as version 1 (by Wang Fang); the year was not known before")
        cal = await calendar_store.load_calendar(db)
        assert cal.is_year_known(2027)
        assert not cal.is_working_day(date(2027, 10, 4))
        assert cal.is_working_day(date(2027, 10, 9))  # make-up Saturday of the example

    async def test_reimport_makes_a_new_version_and_says_so(self, db: asyncpg.Pool) -> None:
        """Importing a year again keeps the old version and reports which one it replaced."""
        first = parse_calendar_file(file_for(2031))
        second = parse_calendar_file(file_for(2031, "holiday 2031-01-01 New Year's Day"))
        await calendar_store.import_year(db, first, entered_by="a")
        same = await calendar_store.import_year(db, first, entered_by="b")
        changed = await calendar_store.import_year(db, second, entered_by="c")
        assert same.message.endswith("it replaced version 1 (the days are identical)")
        assert (changed.version.version, changed.replaced_version, changed.changed) == (3, 2, True)
        assert "it replaced version 2" in changed.message
        versions = await calendar_store.year_versions(db, 2031)
        assert [(v.version, v.entered_by, v.replaces) for v in versions] == [
            (1, "a", None),
            (2, "b", 1),
            (3, "c", 2),
        ]
        assert all(v.entered_at.tzinfo is not None for v in versions)
        shown = await calendar_store.show_year(db, 2031)
        assert shown is not None
        assert shown.version.version == 3
        assert date(2031, 1, 1) in shown.calendar.holidays
        cal = await calendar_store.load_calendar(db)
        assert not cal.is_working_day(date(2031, 1, 1))

    async def test_concurrent_imports_get_distinct_versions(self, db: asyncpg.Pool) -> None:
        """Two operators importing the same year at once: versions 1 and 2, no error."""
        parsed = parse_calendar_file(file_for(2032))
        results = await asyncio.gather(
            calendar_store.import_year(db, parsed, entered_by="x"),
            calendar_store.import_year(db, parsed, entered_by="y"),
        )
        assert sorted(r.version.version for r in results) == [1, 2]

    async def test_who_is_required(self, db: asyncpg.Pool) -> None:
        """An import must say who enters it."""
        with pytest.raises(ValueError, match="entered_by"):
            await calendar_store.import_year(db, parse_calendar_file(file_for(2033)), entered_by=" ")

    async def test_unknown_year_shows_nothing(self, db: asyncpg.Pool) -> None:
        """show_year of a year never stored is None."""
        assert await calendar_store.show_year(db, 2040) is None


class TestSchema:
    async def test_database_refuses_a_weekday_makeup_day(self, db: asyncpg.Pool) -> None:
        """The tables hold their own rules: a make-up day on a weekday cannot be stored."""
        async with db.acquire() as conn:
            await conn.execute(
                "INSERT INTO calendar_year_versions (year, version, entered_by, source) VALUES (2035, 1, 't', 't')"
            )
            with pytest.raises(asyncpg.CheckViolationError):
                await conn.execute("INSERT INTO calendar_days VALUES (2035, 1, '2035-01-01', 'makeup', 'x')")
            with pytest.raises(asyncpg.CheckViolationError):
                await conn.execute(
                    "INSERT INTO calendar_year_versions (year, version, entered_by, source) VALUES (2035, 3, 't', 't')"
                )
