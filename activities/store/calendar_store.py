"""The business calendar in PostgreSQL: versioned years, seeded once, then owned by the database.

Article 8.1: the calendar comes from a maintained library for the years it covers, is stored in the
database, and operators enter newly announced years; calendar data is versioned like any other
record (who entered what, when). Tables: ``activities/migrations/002_calendar.sql``.

Every write runs in one transaction under an advisory lock, so two workers seeding at once, or two
operators importing the same year, never produce a gap or a duplicate version.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Any, Final, TypeAlias

import asyncpg
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from activities.store import calendar_data
from domain.calendar import BusinessCalendar, CalendarYear
from domain.calendar_file import CalendarFile

SEED_AUTHOR: Final = "seed"

#: Every function takes a pool (it acquires a connection) or a connection the caller holds.
Db: TypeAlias = "asyncpg.Pool | asyncpg.Connection"

# Any constant works: it only has to be the same in every process that writes calendar data.
_CALENDAR_LOCK: Final = 0x43414C44  # "CALD"


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class YearVersion(_Value):
    """Who entered one version of a year's schedule, when, and from what."""

    year: int = Field(description="The calendar year.")
    version: int = Field(description="1 for the first record of the year, then 2, 3, ….")
    entered_by: str = Field(description="Who entered it (`seed` for the package's data).")
    entered_at: AwareDatetime = Field(description="When it was stored.")
    source: str = Field(description="Where the schedule comes from.")
    note: str = Field(default="", description="The operator's note.")
    replaces: int | None = Field(default=None, description="The version it replaced, if any.")


class ImportResult(_Value):
    """What `import_year` did."""

    version: YearVersion = Field(description="The version just stored.")
    replaced_version: int | None = Field(description="The version it replaced; None if new.")
    changed: bool = Field(description="Whether the days differ from the replaced version.")

    @property
    def message(self) -> str:
        """One line for the operator, never silent about a replacement."""
        v = self.version
        head = f"calendar {v.year}: stored as version {v.version} (by {v.entered_by})"
        if self.replaced_version is None:
            return f"{head}; the year was not known before"
        same = "" if self.changed else " (the days are identical)"
        return f"{head}; it replaced version {self.replaced_version}{same}"


class StoredYear(_Value):
    """The current version of a year with its data."""

    version: YearVersion
    calendar: CalendarYear


@asynccontextmanager
async def _transaction(db: Db) -> AsyncIterator[Any]:
    """A connection in a transaction (a savepoint when ``db`` is already in one)."""
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as conn, conn.transaction():
            yield conn
    else:
        async with db.transaction():
            yield db


def _version(row: Any) -> YearVersion:
    return YearVersion(
        year=row["year"],
        version=row["version"],
        entered_by=row["entered_by"],
        entered_at=row["entered_at"],
        source=row["source"],
        note=row["note"],
        replaces=row["replaces"],
    )


async def _insert_year(
    conn: Any,
    cal: CalendarYear,
    *,
    version: int,
    entered_by: str,
    source: str,
    note: str,
    entered_at: datetime | None,
) -> YearVersion:
    row = await conn.fetchrow(
        """INSERT INTO calendar_year_versions
               (year, version, entered_by, entered_at, source, note, replaces)
           VALUES ($1, $2, $3, coalesce($4, now()), $5, $6, $7)
           RETURNING year, version, entered_by, entered_at, source, note, replaces""",
        cal.year,
        version,
        entered_by,
        entered_at,
        source,
        note,
        version - 1 if version > 1 else None,
    )
    days: list[tuple[int, int, date, str, str]] = [
        (cal.year, version, d, "holiday", name) for d, name in sorted(cal.holidays.items())
    ]
    days += [(cal.year, version, d, "makeup", name) for d, name in sorted(cal.makeup_days.items())]
    await conn.copy_records_to_table("calendar_days", records=days, columns=["year", "version", "day", "kind", "name"])
    return _version(row)


async def _days_of(conn: Any, year: int, version: int) -> CalendarYear:
    rows = await conn.fetch(
        "SELECT day, kind, name FROM calendar_days WHERE year = $1 AND version = $2 ORDER BY day",
        year,
        version,
    )
    holidays = {r["day"]: r["name"] for r in rows if r["kind"] == "holiday"}
    makeup = {r["day"]: r["name"] for r in rows if r["kind"] == "makeup"}
    return CalendarYear(year=year, holidays=holidays, makeup_days=makeup)


async def seed_from_package(db: Db) -> list[int]:
    """Store the package's data for every year the database does not hold yet (Article 8.1).

    Years already present are left alone, whatever their content: after the first seed the
    database owns the calendar.

    Returns:
        The years seeded now, ascending.
    """
    years = calendar_data.package_years()
    src = calendar_data.source()
    async with _transaction(db) as conn:
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _CALENDAR_LOCK)
        present = {r["year"] for r in await conn.fetch("SELECT DISTINCT year FROM calendar_year_versions")}
        seeded = []
        for cal in years:
            if cal.year in present:
                continue
            await _insert_year(
                conn,
                cal,
                version=1,
                entered_by=SEED_AUTHOR,
                source=src,
                note="seeded from the package",
                entered_at=None,
            )
            seeded.append(cal.year)
    return seeded


async def load_calendar(db: Db) -> BusinessCalendar:
    """The `BusinessCalendar` of every year's current version (one statement: one snapshot)."""
    return BusinessCalendar(await load_years(db))


async def load_years(db: Db, years: list[int] | None = None) -> list[CalendarYear]:
    """The current version of each of ``years`` the database knows (all known years by default).

    What an order binds at its start: a few years, read in one statement, without building the
    whole calendar's tables.
    """
    async with _transaction(db) as conn:
        rows = await conn.fetch(
            """SELECT v.year, d.day, d.kind, d.name
               FROM calendar_current_versions v
               LEFT JOIN calendar_days d USING (year, version)
               WHERE $1::int[] IS NULL OR v.year = ANY($1::int[])
               ORDER BY v.year, d.day""",
            years,
        )
    holidays: dict[int, dict[date, str]] = {}
    makeup: dict[int, dict[date, str]] = {}
    for r in rows:
        year = r["year"]
        holidays.setdefault(year, {})
        makeup.setdefault(year, {})
        if r["day"] is not None:
            (holidays if r["kind"] == "holiday" else makeup)[year][r["day"]] = r["name"]
    return [CalendarYear(year=y, holidays=holidays[y], makeup_days=makeup[y]) for y in holidays]


async def import_year(
    db: Db,
    parsed: CalendarFile,
    *,
    entered_by: str,
    entered_at: datetime | None = None,
) -> ImportResult:
    """Store an operator's year as its next version (Article 8.1: versioned like any record).

    A year already known gets version N+1 and the result says it replaced version N; nothing is
    overwritten or deleted.

    Args:
        db: The database (a pool, or a connection the caller holds).
        parsed: A checked calendar file (`domain.calendar_file.parse_calendar_file`).
        entered_by: Who entered it.
        entered_at: When (the database's clock when omitted).

    Raises:
        ValueError: ``entered_by`` is empty.
    """
    if not entered_by.strip():
        raise ValueError("entered_by: say who enters the calendar, e.g. --by 'Wang Fang'")
    cal = parsed.calendar
    async with _transaction(db) as conn:
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _CALENDAR_LOCK)
        current = await conn.fetchval("SELECT max(version) FROM calendar_year_versions WHERE year = $1", cal.year)
        changed = True
        if current is not None:
            changed = await _days_of(conn, cal.year, current) != cal
        stored = await _insert_year(
            conn,
            cal,
            version=1 if current is None else current + 1,
            entered_by=entered_by.strip(),
            source=parsed.source or "operator",
            note=parsed.note,
            entered_at=entered_at,
        )
    return ImportResult(version=stored, replaced_version=current, changed=changed)


async def show_year(db: Db, year: int) -> StoredYear | None:
    """The current version of ``year`` with its days, or `None` when the year is not stored."""
    async with _transaction(db) as conn:
        row = await conn.fetchrow("SELECT * FROM calendar_current_versions WHERE year = $1", year)
        if row is None:
            return None
        version = _version(row)
        return StoredYear(version=version, calendar=await _days_of(conn, year, version.version))


async def year_versions(db: Db, year: int) -> list[YearVersion]:
    """Every stored version of ``year``, oldest first."""
    async with _transaction(db) as conn:
        rows = await conn.fetch(
            """SELECT year, version, entered_by, entered_at, source, note, replaces
               FROM calendar_year_versions WHERE year = $1 ORDER BY version""",
            year,
        )
    return [_version(r) for r in rows]
