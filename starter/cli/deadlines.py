"""`hotline deadlines`: an order's receipt and completion deadlines, one or a batch of NDJSON lines.

The calendar and the rulebook's versions come from the database when it answers (the version in
force at each instant, imported successors included), else from the package.

Exit codes (`starter.cli.exits`): 0 done, 1 the database was needed and could not be reached, 2 bad
input (the message on stderr names what was wrong and what is allowed).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import multiprocessing
import os
import sys
from collections.abc import Awaitable, Callable, Iterable, Iterator
from datetime import datetime
from typing import IO, Any, TextIO, TypeVar

import asyncpg

from activities.store import calendar_data, calendar_store, rulebooks
from activities.store.db import DatabaseUnavailableError, apply_migrations
from domain.calendar import BusinessCalendar
from domain.deadlines import completion_deadline, receipt_deadline
from domain.errors import DomainError
from domain.models import Category, Tier
from domain.rulebook import RULEBOOKS, Rulebook, rulebook_for
from starter.cli.db import with_pool
from starter.cli.exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CliError

#: How long to try the database before falling back to the package's calendar and rulebooks.
CONNECT_TIMEOUT_S = 2.0

#: The rulebook versions, oldest first (`domain.rulebook.rulebook_for`'s ``books``).
Books = tuple[Rulebook, ...]

_TIERS = ", ".join(t.value for t in Tier)
_CATEGORIES = ", ".join(c.value for c in Category)
_BATCH_FIELDS = ("tier", "dispatched_at", "category")

T = TypeVar("T")


# -- parsing input -----------------------------------------------------------------------------


def _bad(message: str) -> CliError:
    """Input the command cannot use (exit 2); the message says what and what is allowed."""
    return CliError(message, EXIT_USAGE)


def _tier(value: Any) -> Tier:
    try:
        return Tier(value)
    except ValueError:
        raise _bad(f"tier: unknown tier {value!r}; allowed: {_TIERS}") from None


def _category(value: Any) -> Category:
    try:
        return Category(value)
    except ValueError:
        raise _bad(f"category: unknown category {value!r}; allowed: {_CATEGORIES}") from None


def _instant(value: Any) -> datetime:
    example = "allowed: an aware ISO-8601 instant, e.g. 2026-11-27T10:15:00+08:00"
    if not isinstance(value, str):
        raise _bad(f"dispatched_at: {value!r} is not a string; {example}")
    try:
        t = datetime.fromisoformat(value)
    except ValueError as e:
        raise _bad(f"dispatched_at: {value!r} is not a valid instant ({e}); {example}") from None
    if t.tzinfo is None or t.utcoffset() is None:
        raise _bad(f"dispatched_at: {value!r} has no offset (naive datetime); {example}")
    return t


def _deadlines(
    calendar: BusinessCalendar, tier: Tier, t: datetime, category: Category, books: Books = RULEBOOKS
) -> dict[str, Any]:
    """The JSON object of one order's receipt and completion deadlines (Articles 8.1, 8.5).

    Both windows count from the one instant given: the receipt window from the city hotline's
    transfer, the completion window as if the unit got its handling order then (Art. 8.4: the
    units' clock starts at the dispatch to the unit); each explanation names its instant.
    """
    rulebook = rulebook_for(t, books=books)
    r = receipt_deadline(rulebook, calendar, t, tier=tier, category=category)
    c = completion_deadline(rulebook, calendar, t, tier=tier, category=category, started="dispatched to the unit")
    return {
        "receipt_due": r.due.isoformat(),
        "completion_due": c.due.isoformat(),
        "receipt_explanation": r.explanation,
        "completion_explanation": c.explanation,
        "calendar_confirmed": r.calendar_confirmed and c.calendar_confirmed,
        "rulebook": rulebook.id,
    }


def _batch_line(calendar: BusinessCalendar, line: str, books: Books = RULEBOOKS) -> dict[str, Any]:
    if not line.strip():
        raise _bad('empty line; allowed: one JSON object per line, {"tier": …, "dispatched_at": …}')
    try:
        obj = json.loads(line)
    except ValueError as e:
        raise _bad(f"not a JSON object ({e})") from None
    if not isinstance(obj, dict):
        raise _bad('not a JSON object; allowed: {"tier": …, "dispatched_at": …, "category": …}')
    unknown = sorted(set(obj) - set(_BATCH_FIELDS))
    if unknown:
        raise _bad(f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(_BATCH_FIELDS)}")
    for key in ("tier", "dispatched_at"):
        if key not in obj:
            raise _bad(f"{key}: required field is missing")
    tier = _tier(obj["tier"])
    t = _instant(obj["dispatched_at"])
    category = _category(obj.get("category", Category.GENERAL.value))
    return _deadlines(calendar, tier, t, category, books)


_CHUNK = 4096
_BATCH_CALENDAR: BusinessCalendar | None = None  # the forked workers' calendar
_BATCH_BOOKS: Books = RULEBOOKS  # and rulebook versions


def _answer_chunk(lines: list[str]) -> tuple[str, int]:
    """NDJSON answers of a chunk of lines, and how many of them were errors."""
    calendar = _BATCH_CALENDAR
    assert calendar is not None
    errors = 0
    answers = []
    for line in lines:
        try:
            result = _batch_line(calendar, line, _BATCH_BOOKS)
        except (CliError, DomainError) as e:
            result = {"error": str(e)}
            errors += 1
        answers.append(json.dumps(result, ensure_ascii=False))
    return "".join(a + "\n" for a in answers), errors


def run_batch(
    calendar: BusinessCalendar,
    lines: Iterable[str],
    out: IO[str],
    *,
    processes: int | None = None,
    books: Books = RULEBOOKS,
) -> int:
    """Answer NDJSON orders line by line; a bad line gets ``{"error": …}`` and the rest go on.

    Lines are answered in chunks, in order; when there is more than one chunk the chunks are
    spread over the machine's cores (forked workers share the precomputed calendar and the
    rulebook versions).

    Returns:
        How many lines had an error.
    """
    global _BATCH_CALENDAR, _BATCH_BOOKS
    _BATCH_CALENDAR = calendar
    _BATCH_BOOKS = books
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


async def with_calendar_pool(fn: Callable[[Any], Awaitable[T]], *, migrate_and_seed: bool = False) -> T:
    """Run ``fn(pool)`` on the configured database, giving it `CONNECT_TIMEOUT_S` to answer."""

    async def work(pool: Any) -> T:
        if migrate_and_seed:
            async with pool.acquire() as conn:
                await apply_migrations(conn)
            await calendar_store.seed_from_package(pool)
        return await fn(pool)

    return await with_pool(work, max_size=2, connect_seconds=CONNECT_TIMEOUT_S)


def short_reason(e: Exception) -> str:
    """Why the database was not used, in a few words (the URL without its password)."""
    return f"{e.url}: {e.reason}" if isinstance(e, DatabaseUnavailableError) else str(e)


def package_calendar() -> BusinessCalendar:
    return calendar_data.package_calendar()


async def _stored_books(pool: Any) -> Books | None:
    """The stored rulebook versions; `None` when the database has none (or no table for them yet)."""
    try:
        books = await rulebooks.load_rulebooks(pool)
    except asyncpg.UndefinedTableError:
        return None
    return books or None


async def _from_database(pool: Any) -> tuple[BusinessCalendar, Books | None]:
    return await calendar_store.load_calendar(pool), await _stored_books(pool)


def load_sources(source: str, *, err: TextIO) -> tuple[BusinessCalendar, Books]:
    """The calendar and the rulebook versions from the database (``auto``: when reachable and stored) or the package.

    Args:
        source: ``auto``, ``database`` or ``package``.
        err: Where a fallback is noted.

    Raises:
        ConnectionError: ``source`` is ``database`` and the database cannot be used.
    """
    if source == "package":
        return package_calendar(), RULEBOOKS
    try:
        cal, books = asyncio.run(with_calendar_pool(_from_database))
    except (DatabaseUnavailableError, asyncpg.PostgresError) as e:
        if source == "database":
            raise ConnectionError(f"cannot read the calendar from the database: {short_reason(e)}") from e
        err.write(
            "note: calendar from the chinesecalendar package and rulebooks from the package "
            f"(database not used: {short_reason(e)})\n"
        )
        return package_calendar(), RULEBOOKS
    if books is None:
        if source == "database":
            raise ConnectionError("the database holds no rulebook versions")
        err.write("note: the database holds no rulebook versions yet; using the package's\n")
        books = RULEBOOKS
    if not cal.known_years:
        if source == "database":
            raise ConnectionError("the database holds no calendar years")
        err.write("note: the database holds no calendar yet; using the chinesecalendar package\n")
        return package_calendar(), books
    return cal, books


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
            return EXIT_USAGE
        try:
            stream: TextIO = sys.stdin if args.batch == "-" else open(args.batch, encoding="utf-8")  # noqa: SIM115
        except OSError as e:
            err.write(f"error: cannot read {args.batch}: {e.strerror}\n")
            return EXIT_USAGE
        try:
            sources = _sources_or_exit(args.calendar, err)
            if sources is None:
                return EXIT_FAILED
            calendar, books = sources
            failed = run_batch(calendar, (ln.rstrip("\r\n") for ln in stream), sys.stdout, books=books)
        finally:
            if stream is not sys.stdin:
                stream.close()
        if failed:
            err.write(f'{failed} line(s) had an error; see the "error" objects in the output\n')
        return EXIT_OK

    try:
        if not args.tier or not args.dispatched_at:
            raise _bad(f"give --tier and --dispatched-at (or --batch - for NDJSON on stdin); tiers: {_TIERS}")
        tier = _tier(args.tier)
        t = _instant(args.dispatched_at)
        category = _category(args.category or Category.GENERAL.value)
        rulebook_for(t)  # refuse an instant before the first rulebook before touching the database
    except (CliError, DomainError) as e:
        err.write(f"error: {e}\n")
        return EXIT_USAGE
    sources = _sources_or_exit(args.calendar, err)
    if sources is None:
        return EXIT_FAILED
    calendar, books = sources
    try:
        result = _deadlines(calendar, tier, t, category, books)
    except DomainError as e:
        err.write(f"error: {e}\n")
        return EXIT_USAGE
    sys.stdout.write(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    sys.stdout.flush()
    return EXIT_OK


def _sources_or_exit(source: str, err: TextIO) -> tuple[BusinessCalendar, Books] | None:
    try:
        return load_sources(source, err=err)
    except ConnectionError as e:
        err.write(f"error: {e}\n")
        return None


# -- wiring ------------------------------------------------------------------------------------


def configure(command: str, p: argparse.ArgumentParser) -> None:
    """The arguments of `hotline deadlines`."""
    p.description = (
        "Receipt and completion deadlines with their explanations, as JSON. The "
        "calendar and the rulebook version in force come from the database when reachable "
        "(HOTLINE_DATABASE_URL), else from the chinesecalendar package and the package's rulebooks."
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
        help="where the calendar and the rulebook versions come from (default auto: the database if reachable)",
    )
    p.set_defaults(func=cmd_deadlines)
