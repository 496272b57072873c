"""`hotline deadlines` and `hotline calendar show|import`: deadlines and calendar admin.

``starter/cli.py`` wires these in with ``deadlines_cmd.register(sub)``. Every handler returns an
exit code: 0 done, 1 the database was needed and could not be reached, 2 bad input (the message on
stderr names what was wrong and what is allowed).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import itertools
import json
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any, TextIO

from domain.calendar import BusinessCalendar, day_name
from domain.calendar_file import CalendarFileError, parse_calendar_file
from domain.deadlines import completion_deadline, receipt_deadline
from domain.errors import DomainError
from domain.models import Category, Tier
from domain.rulebook import RULEBOOKS, rulebook_for
from starter.db import DatabaseUnavailableError, with_pool

EXIT_OK = 0
EXIT_UNAVAILABLE = 1
EXIT_BAD_INPUT = 2

#: How long to try the database before falling back to the package's calendar.
CONNECT_TIMEOUT_S = 2.0

_TIERS = ", ".join(t.value for t in Tier)
_CATEGORIES = ", ".join(c.value for c in Category)
_BATCH_FIELDS = ("tier", "dispatched_at", "category")


class BadInputError(Exception):
    """User input the command cannot use; the message says what and what is allowed."""


# -- parsing input -----------------------------------------------------------------------------


def _tier(value: Any) -> Tier:
    try:
        return Tier(value)
    except ValueError:
        raise BadInputError(f"tier: unknown tier {value!r}; allowed: {_TIERS}") from None


def _category(value: Any) -> Category:
    try:
        return Category(value)
    except ValueError:
        raise BadInputError(f"category: unknown category {value!r}; allowed: {_CATEGORIES}") from None


def _instant(value: Any) -> datetime:
    example = "allowed: an aware ISO-8601 instant, e.g. 2026-11-27T10:15:00+08:00"
    if not isinstance(value, str):
        raise BadInputError(f"dispatched_at: {value!r} is not a string; {example}")
    try:
        t = datetime.fromisoformat(value)
    except ValueError as e:
        raise BadInputError(f"dispatched_at: {value!r} is not a valid instant ({e}); {example}") from None
    if t.tzinfo is None or t.utcoffset() is None:
        raise BadInputError(f"dispatched_at: {value!r} has no offset (naive datetime); {example}")
    return t


def _deadlines(calendar: BusinessCalendar, tier: Tier, t: datetime, category: Category) -> dict[str, Any]:
    """The JSON object of one order's receipt and completion deadlines (Articles 8.1, 8.5)."""
    rulebook = rulebook_for(t)
    r = receipt_deadline(rulebook, calendar, t, tier=tier, category=category)
    c = completion_deadline(rulebook, calendar, t, tier=tier, category=category)
    return {
        "receipt_due": r.due.isoformat(),
        "completion_due": c.due.isoformat(),
        "receipt_explanation": r.explanation,
        "completion_explanation": c.explanation,
        "calendar_confirmed": r.calendar_confirmed and c.calendar_confirmed,
        "rulebook": rulebook.id,
    }


def _batch_line(calendar: BusinessCalendar, line: str) -> dict[str, Any]:
    if not line.strip():
        raise BadInputError('empty line; allowed: one JSON object per line, {"tier": …, "dispatched_at": …}')
    try:
        obj = json.loads(line)
    except ValueError as e:
        raise BadInputError(f"not a JSON object ({e})") from None
    if not isinstance(obj, dict):
        raise BadInputError('not a JSON object; allowed: {"tier": …, "dispatched_at": …, "category": …}')
    unknown = sorted(set(obj) - set(_BATCH_FIELDS))
    if unknown:
        raise BadInputError(f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(_BATCH_FIELDS)}")
    for key in ("tier", "dispatched_at"):
        if key not in obj:
            raise BadInputError(f"{key}: required field is missing")
    tier = _tier(obj["tier"])
    t = _instant(obj["dispatched_at"])
    category = _category(obj.get("category", Category.GENERAL.value))
    return _deadlines(calendar, tier, t, category)


_CHUNK = 4096
_BATCH_CALENDAR: BusinessCalendar | None = None  # the forked workers' calendar


def _answer_chunk(lines: list[str]) -> tuple[str, int]:
    """NDJSON answers of a chunk of lines, and how many of them were errors."""
    calendar = _BATCH_CALENDAR
    assert calendar is not None
    errors = 0
    answers = []
    for line in lines:
        try:
            result = _batch_line(calendar, line)
        except (BadInputError, DomainError) as e:
            result = {"error": str(e)}
            errors += 1
        answers.append(json.dumps(result, ensure_ascii=False))
    return "".join(a + "\n" for a in answers), errors


def run_batch(calendar: BusinessCalendar, lines: Iterable[str], out: IO[str], *, processes: int | None = None) -> int:
    """Answer NDJSON orders line by line; a bad line gets ``{"error": …}`` and the rest go on.

    Lines are answered in chunks, in order; when there is more than one chunk the chunks are
    spread over the machine's cores (forked workers share the precomputed calendar).

    Returns:
        How many lines had an error.
    """
    global _BATCH_CALENDAR
    _BATCH_CALENDAR = calendar
    chunks = _chunks(lines)
    first = next(chunks, None)
    if first is None:
        out.flush()
        return 0
    second = next(chunks, None)
    errors = 0
    if second is None or (processes or os.cpu_count() or 1) < 2:
        for chunk in itertools.chain([first], [second] if second else [], chunks):
            text, n = _answer_chunk(chunk)
            out.write(text)
            errors += n
    else:
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(processes or os.cpu_count()) as pool:
            for text, n in pool.imap(_answer_chunk, itertools.chain([first, second], chunks)):
                out.write(text)
                errors += n
    out.flush()
    return errors


def _chunks(lines: Iterable[str]) -> Iterator[list[str]]:
    chunk: list[str] = []
    for line in lines:
        chunk.append(line.rstrip("\n"))
        if len(chunk) >= _CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# -- the calendar's source ---------------------------------------------------------------------


async def _with_pool(fn: Callable[[Any], Any]) -> Any:
    """Run ``fn(pool)`` on the configured database, giving it `CONNECT_TIMEOUT_S` to answer."""
    return await with_pool(fn, max_size=2, connect_seconds=CONNECT_TIMEOUT_S)


def _short(e: Exception) -> str:
    """Why the database was not used, in a few words (the URL without its password)."""
    return f"{e.url}: {e.reason}" if isinstance(e, DatabaseUnavailableError) else str(e)


def _package_calendar() -> BusinessCalendar:
    from activities.calendar_data import package_calendar

    return package_calendar()


def load_calendar(source: str, *, err: TextIO) -> BusinessCalendar:
    """The calendar from the database (``auto``: when reachable and stored) or the package.

    Args:
        source: ``auto``, ``database`` or ``package``.
        err: Where a fallback is noted.

    Raises:
        ConnectionError: ``source`` is ``database`` and the database cannot be used.
    """
    if source == "package":
        return _package_calendar()
    import asyncpg

    from activities import calendar_store

    try:
        cal: BusinessCalendar = asyncio.run(_with_pool(calendar_store.load_calendar))
    except (DatabaseUnavailableError, asyncpg.PostgresError) as e:
        if source == "database":
            raise ConnectionError(f"cannot read the calendar from the database: {_short(e)}") from e
        err.write(f"note: calendar from the chinesecalendar package (database not used: {_short(e)})\n")
        return _package_calendar()
    if not cal.known_years:
        if source == "database":
            raise ConnectionError("the database holds no calendar years")
        err.write("note: the database holds no calendar yet; using the chinesecalendar package\n")
        return _package_calendar()
    return cal


# -- hotline deadlines -------------------------------------------------------------------------


def cmd_deadlines(args: argparse.Namespace) -> int:
    """`hotline deadlines`: one order's deadlines as JSON, or NDJSON in and out with ``--batch``."""
    err: TextIO = sys.stderr
    if args.batch is not None:
        if args.tier or args.dispatched_at or args.category:
            err.write(
                "error: --batch reads tier, dispatched_at and category from each line; "
                "do not give --tier, --dispatched-at or --category with it\n"
            )
            return EXIT_BAD_INPUT
        try:
            stream: TextIO = sys.stdin if args.batch == "-" else open(args.batch, encoding="utf-8")  # noqa: SIM115
        except OSError as e:
            err.write(f"error: cannot read {args.batch}: {e.strerror}\n")
            return EXIT_BAD_INPUT
        try:
            calendar = _calendar_or_exit(args.calendar, err)
            if calendar is None:
                return EXIT_UNAVAILABLE
            failed = run_batch(calendar, (ln.rstrip("\r\n") for ln in stream), sys.stdout)
        finally:
            if stream is not sys.stdin:
                stream.close()
        if failed:
            err.write(f'{failed} line(s) had an error; see the "error" objects in the output\n')
        return EXIT_OK

    try:
        if not args.tier or not args.dispatched_at:
            raise BadInputError(f"give --tier and --dispatched-at (or --batch - for NDJSON on stdin); tiers: {_TIERS}")
        tier = _tier(args.tier)
        t = _instant(args.dispatched_at)
        category = _category(args.category or Category.GENERAL.value)
        rulebook_for(t)  # refuse an instant before the first rulebook before touching the database
    except (BadInputError, DomainError) as e:
        err.write(f"error: {e}\n")
        return EXIT_BAD_INPUT
    calendar = _calendar_or_exit(args.calendar, err)
    if calendar is None:
        return EXIT_UNAVAILABLE
    try:
        result = _deadlines(calendar, tier, t, category)
    except DomainError as e:
        err.write(f"error: {e}\n")
        return EXIT_BAD_INPUT
    sys.stdout.write(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    sys.stdout.flush()
    return EXIT_OK


def _calendar_or_exit(source: str, err: TextIO) -> BusinessCalendar | None:
    try:
        return load_calendar(source, err=err)
    except ConnectionError as e:
        err.write(f"error: {e}\n")
        return None


# -- hotline calendar show / import ------------------------------------------------------------


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
        return EXIT_BAD_INPUT
    header: str
    from activities import calendar_store

    async def fetch(pool: Any) -> tuple[BusinessCalendar, Any]:
        await _migrate_and_seed(pool)
        return await calendar_store.load_calendar(pool), await calendar_store.show_year(pool, year)

    try:
        calendar, stored = asyncio.run(_with_pool(fetch))
        if stored is None:
            header = f"calendar {year}: not in the database"
        else:
            v = stored.version
            header = (
                f"calendar {year}: version {v.version}, entered by {v.entered_by} at "
                f"{v.entered_at.isoformat()}, source: {v.source}" + (f", note: {v.note}" if v.note else "")
            )
    except DatabaseUnavailableError as e:  # the database is optional for showing
        sys.stderr.write(f"note: database not used ({_short(e)}); showing the package's data\n")
        from activities.calendar_data import source

        calendar = _package_calendar()
        header = f"calendar {year}: from the package ({source()}), not from the database"
    sys.stdout.write("\n".join(_describe_year(calendar, year, header)) + "\n")
    return EXIT_OK


async def _migrate_and_seed(pool: Any) -> None:
    from activities import calendar_store
    from activities.db import apply_migrations

    async with pool.acquire() as conn:
        await apply_migrations(conn)
    await calendar_store.seed_from_package(pool)


def cmd_calendar_import(args: argparse.Namespace) -> int:
    """`hotline calendar import FILE`: store a newly announced year as its next version."""
    path = Path(args.file)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        sys.stderr.write(f"error: {path} is not UTF-8 text ({e.reason} at byte {e.start})\n")
        return EXIT_BAD_INPUT
    except OSError as e:
        sys.stderr.write(f"error: cannot read {path}: {e.strerror}\n")
        return EXIT_BAD_INPUT
    try:
        parsed = parse_calendar_file(text, filename=str(path))
    except CalendarFileError as e:
        sys.stderr.write(f"error: {e}\n")
        return EXIT_BAD_INPUT
    by = (args.by or "").strip() or getpass.getuser()
    from activities import calendar_store

    async def store(pool: Any) -> calendar_store.ImportResult:
        await _migrate_and_seed(pool)
        return await calendar_store.import_year(pool, parsed, entered_by=by)

    try:
        result: calendar_store.ImportResult = asyncio.run(_with_pool(store))
    except DatabaseUnavailableError as e:
        sys.stderr.write(
            f"error: the calendar import needs the database, which cannot be reached: {_short(e)}; "
            "nothing was imported\n"
        )
        return EXIT_UNAVAILABLE
    sys.stdout.write(result.message + "\n")
    return _notify_orders([parsed.calendar.year])


def _notify_orders(years: list[int]) -> int:
    """Signal running orders with unconfirmed deadlines; say how many were told."""
    from starter.calendar_notify import notify_calendar_change
    from starter.client import HotlineClient, TemporalUnreachable

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


def register(subparsers: Any) -> None:
    """Add `deadlines` and `calendar` to the `hotline` command's subparsers."""
    p = subparsers.add_parser(
        "deadlines",
        help="compute an order's receipt and completion deadlines (Articles 8.1, 8.5)",
        description="Receipt and completion deadlines with their explanations, as JSON. The "
        "calendar comes from the database when reachable (HOTLINE_DATABASE_URL), else from "
        "the chinesecalendar package.",
    )
    p.add_argument("--tier", help=f"urgency tier: {_TIERS}")
    p.add_argument("--dispatched-at", help="aware ISO-8601 instant, e.g. 2026-03-06T09:00+08:00")
    p.add_argument("--category", help=f"category (default general): {_CATEGORIES}")
    p.add_argument(
        "--batch",
        metavar="FILE",
        help='NDJSON lines {"tier", "dispatched_at", "category"} from FILE (- for stdin); one '
        'NDJSON result per line, in order; a bad line gets {"error": …}',
    )
    p.add_argument(
        "--calendar",
        choices=("auto", "database", "package"),
        default="auto",
        help="where the calendar comes from (default auto: the database if reachable)",
    )
    p.set_defaults(func=cmd_deadlines)

    cal = subparsers.add_parser("calendar", help="show or enter the business calendar (Art. 8.1)")
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
