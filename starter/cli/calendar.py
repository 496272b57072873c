"""`hotline calendar show|import|notify`: the business calendar (Article 8.1) as operators keep it.

Exit codes (`starter.cli.exits`): 0 done, 1 the database was needed and could not be reached, 2 bad
input (the message on stderr names what was wrong and what is allowed).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from activities.store import calendar_data, calendar_store
from activities.store.db import DatabaseUnavailableError
from domain.calendar import BusinessCalendar, day_name
from domain.calendar_file import CalendarFileError, parse_calendar_file
from domain.rulebook import RULEBOOKS
from starter.calendar_notify import notify_calendar_change
from starter.cli.deadlines import package_calendar, short_reason, with_calendar_pool
from starter.cli.exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from starter.client import HotlineClient
from starter.errors import TemporalUnreachable


def _describe_year(calendar: BusinessCalendar, year: int, header: str) -> Iterator[str]:
    long_days = RULEBOOKS[-1].long_break_min_days
    yield header
    data = calendar.year(year)
    yield f"working days: {calendar.working_days_in_year(year)}"
    if data is None:
        yield (
            f"{year} is not known: Monday-Friday is assumed and every deadline that touches it "
            "is marked calendar_confirmed: false. Enter it with `hotline calendar import FILE`."
        )
        return
    yield "holidays:"
    for first, last, name in data.holiday_ranges():
        n = (last - first).days + 1
        span = f"{first}..{last}" if n > 1 else f"{first}"
        yield f"  {span:<22} {name} ({n} day{'s' if n > 1 else ''})"
    yield "make-up working days:"
    for d in sorted(data.makeup_days) or []:
        yield f"  {day_name(d)} {d}         {data.makeup_days[d]}"
    if not data.makeup_days:
        yield "  (none)"
    yield f"holiday breaks (long: >= {long_days} days, Article 8.1):"
    for b in calendar.breaks_in_year(year):
        mark = "long" if b.days >= long_days else "short"
        yield f"  {b.start}..{b.end}  {b.days:>2} days  {mark:<5}  {b.name}"


def cmd_calendar_show(args: argparse.Namespace) -> int:
    """`hotline calendar show YEAR`: the year's working days, holidays, make-up days and breaks."""
    year: int = args.year
    if not 1 <= year <= 9998:
        sys.stderr.write(f"error: year {year} is out of range; allowed: 1..9998\n")
        return EXIT_USAGE
    header: str

    async def fetch(pool: Any) -> tuple[BusinessCalendar, calendar_store.StoredYear | None]:
        return await calendar_store.load_calendar(pool), await calendar_store.show_year(pool, year)

    try:
        calendar, stored = asyncio.run(with_calendar_pool(fetch, migrate_and_seed=True))
        if stored is None:
            header = f"calendar {year}: not in the database"
        else:
            v = stored.version
            header = (
                f"calendar {year}: version {v.version}, entered by {v.entered_by} at "
                f"{v.entered_at.isoformat()}, source: {v.source}" + (f", note: {v.note}" if v.note else "")
            )
    except DatabaseUnavailableError as e:  # the database is optional for showing
        sys.stderr.write(f"note: database not used ({short_reason(e)}); showing the package's data\n")
        calendar = package_calendar()
        header = f"calendar {year}: from the package ({calendar_data.source()}), not from the database"
    sys.stdout.write("\n".join(_describe_year(calendar, year, header)) + "\n")
    return EXIT_OK


def cmd_calendar_import(args: argparse.Namespace) -> int:
    """`hotline calendar import FILE`: store a newly announced year as its next version."""
    path = Path(args.file)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        sys.stderr.write(f"error: {path} is not UTF-8 text ({e.reason} at byte {e.start})\n")
        return EXIT_USAGE
    except OSError as e:
        sys.stderr.write(f"error: cannot read {path}: {e.strerror}\n")
        return EXIT_USAGE
    try:
        parsed = parse_calendar_file(text, filename=str(path))
    except CalendarFileError as e:
        sys.stderr.write(f"error: {e}\n")
        return EXIT_USAGE
    by = (args.by or "").strip() or getpass.getuser()

    async def store(pool: Any) -> calendar_store.ImportResult:
        return await calendar_store.import_year(pool, parsed, entered_by=by)

    try:
        result = asyncio.run(with_calendar_pool(store, migrate_and_seed=True))
    except DatabaseUnavailableError as e:
        sys.stderr.write(
            f"error: the calendar import needs the database, which cannot be reached: {short_reason(e)}; "
            "nothing was imported\n"
        )
        return EXIT_FAILED
    sys.stdout.write(result.message + "\n")
    return _notify_orders([parsed.calendar.year])


def _notify_orders(years: list[int]) -> int:
    """Signal running orders with unconfirmed deadlines; say how many were told."""

    async def main() -> list[str]:
        client = await HotlineClient.connect()
        return await notify_calendar_change(client.client, years=years)

    try:
        told = asyncio.run(main())
    except TemporalUnreachable as e:
        # the import stands; a worker tells unconfirmed orders again whenever it starts
        sys.stderr.write(
            f"warning: running orders were not told of the change now ({e}); the next worker start "
            "tells them, or run `hotline calendar notify YEAR` when Temporal is up\n"
        )
        return EXIT_OK
    sys.stdout.write(f"told {len(told)} running order(s) with unconfirmed deadlines to recompute\n")
    return EXIT_OK


def cmd_calendar_notify(args: argparse.Namespace) -> int:
    """`hotline calendar notify`: tell running orders with unconfirmed deadlines to recompute."""
    return _notify_orders(list(args.years))


# -- wiring ------------------------------------------------------------------------------------


def _year_arg(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a year; allowed: e.g. 2027") from None


def configure(command: str, cal: argparse.ArgumentParser) -> None:
    """The arguments of `hotline calendar show|import|notify`."""
    calsub = cal.add_subparsers(dest="calendar_command", required=True, metavar="{show,import,notify}")
    show = calsub.add_parser("show", help="a year's working days, holidays, make-up days, breaks")
    show.add_argument("year", type=_year_arg, help="the year, e.g. 2026")
    show.set_defaults(func=cmd_calendar_show)
    imp = calsub.add_parser(
        "import",
        help="enter a newly announced year from a calendar file (docs/calendar-format.md)",
        description="The file is checked whole first; any error refuses it and nothing changes. "
        "A year already stored gets a new version; the old one is kept.",
    )
    imp.add_argument("file", help="the calendar file (format: docs/calendar-format.md)")
    imp.add_argument("--by", help="who enters it (default: the login name)")
    imp.set_defaults(func=cmd_calendar_import)
    notify = calsub.add_parser(
        "notify",
        help="tell running orders with unconfirmed deadlines to recompute (import does this itself)",
    )
    notify.add_argument("years", type=_year_arg, nargs="+", help="the year(s) that changed")
    notify.set_defaults(func=cmd_calendar_notify)
