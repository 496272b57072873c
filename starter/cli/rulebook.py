"""`hotline rulebook list|show|import`: the rulebook's versions (Article 14) as operators keep them.

A version is a JSON file (``docs/rulebook-format.md``); the package ships `tianjin-2021`, operators
import its successors into PostgreSQL. An order binds the version in force at its transfer when it
starts and keeps it for life.

Exit codes (`starter.cli.exits`): 0 done (an identical re-import included), 1 refused by the stored
versions or the database could not be used, 2 a file that breaks the format (the line on stderr
names what is wrong).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from activities.store import rulebooks
from activities.store.db import DatabaseUnavailableError
from domain.calendar import SHANGHAI
from domain.errors import RulebookError
from domain.rulebook import RULEBOOKS, SHIPPED_FILES, Rulebook, parse_rulebook, rulebook_digest, rulebook_text
from starter.cli.db import with_pool
from starter.cli.exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CliError

#: Seconds `list` and `show` give the database before they show the package's versions instead.
CONNECT_TIMEOUT_S = 2.0


async def _seeded(pool: Any) -> None:
    """The package's versions, stored if the database lacks them (as the worker does at start)."""
    async with pool.acquire() as conn:
        await rulebooks.seed_from_package(conn)


def _read_database(fn: Any) -> Any:
    """``fn(pool)`` on the migrated and seeded database; `None` (and a note) when it cannot be reached."""

    async def work(pool: Any) -> Any:
        await _seeded(pool)
        return await fn(pool)

    try:
        return asyncio.run(with_pool(work, max_size=2, connect_seconds=CONNECT_TIMEOUT_S, migrate=True))
    except DatabaseUnavailableError as e:
        sys.stderr.write(f"note: database not used ({e.url}: {e.reason}); showing the package's versions\n")
        return None


def _package_versions() -> list[rulebooks.RulebookVersion]:
    return [
        rulebooks.RulebookVersion(
            id=b.id,
            effective_from=b.effective_from,
            nominal_end=b.nominal_end,
            title=b.title,
            digest=rulebook_digest(b),
            entered_by="package",
            entered_at=datetime.now(SHANGHAI),
            source=f"package {SHIPPED_FILES[b.id]}",
        )
        for b in RULEBOOKS
    ]


def _span(v: rulebooks.RulebookVersion, successor: rulebooks.RulebookVersion | None) -> str:
    if successor is None:
        return f"from {v.effective_from.isoformat()} until a successor takes effect"
    return f"from {v.effective_from.isoformat()} until {successor.effective_from.isoformat()} ({successor.id})"


def _list_lines(versions: list[rulebooks.RulebookVersion], *, from_db: bool) -> Iterator[str]:
    today = datetime.now(SHANGHAI).date()
    current = None
    for v in versions:
        if v.effective_from <= today:
            current = v
    for i, v in enumerate(versions):
        successor = versions[i + 1] if i + 1 < len(versions) else None
        mark = "*" if v is current else " "
        end = f"; nominal end {v.nominal_end.isoformat()}" if v.nominal_end else ""
        who = f"entered by {v.entered_by} at {v.entered_at.isoformat(timespec='seconds')}" if from_db else v.source
        yield f"{mark} {v.id:<20} {_span(v, successor)}{end}; {who}"
        if v.title:
            yield f"  {'':<20} {v.title}"
    if current is None:
        yield f"{len(versions)} version(s); none is in force today ({today.isoformat()})"
        return
    lapsed = ""
    if current.nominal_end is not None and today >= current.nominal_end:
        lapsed = f", past its nominal end {current.nominal_end.isoformat()} (in force until a successor takes effect)"
    yield f"{len(versions)} version(s); * in force today ({today.isoformat()}): {current.id}{lapsed}"


def cmd_list(args: argparse.Namespace) -> int:
    """`hotline rulebook list`: every version, when it governs, who entered it."""
    versions = _read_database(rulebooks.list_versions)
    from_db = versions is not None
    sys.stdout.write("\n".join(_list_lines(versions if from_db else _package_versions(), from_db=from_db)) + "\n")
    return EXIT_OK


def _show_lines(shown: rulebooks.StoredRulebook, *, from_db: bool) -> Iterator[str]:
    v, rb = shown.version, shown.rulebook
    yield f"rulebook {v.id}" + (f": {v.title}" if v.title else "")
    yield f"in force: {_span(v, shown.successor)}" + (f"; succeeds {shown.predecessor}" if shown.predecessor else "")
    if rb.nominal_end is not None:
        yield (
            f"nominal end: {rb.nominal_end.isoformat()} (Article 14); past it the version stays in force until a "
            "successor takes effect, and every deadline's explanation says so"
        )
    if from_db:
        yield f"entered by {v.entered_by} at {v.entered_at.isoformat(timespec='seconds')}; source: {v.source}" + (
            f"; note: {v.note}" if v.note else ""
        )
    else:
        yield f"from the {v.source}, not from the database"
    yield f"sha256: {v.digest}"
    yield "content (docs/rulebook-format.md; `--json` prints it alone):"
    yield rulebook_text(rb).rstrip("\n")


def _package_shown(book_id: str) -> rulebooks.StoredRulebook | None:
    versions = _package_versions()
    for i, v in enumerate(versions):
        if v.id == book_id:
            book = RULEBOOKS[i]
            return rulebooks.StoredRulebook(
                version=v,
                rulebook=book,
                original=rulebooks.shipped_original(book.id),
                predecessor=versions[i - 1].id if i else None,
                successor=versions[i + 1] if i + 1 < len(versions) else None,
            )
    return None


def cmd_show(args: argparse.Namespace) -> int:
    """`hotline rulebook show ID [--json]`: one version, its span, its record and its content."""

    async def fetch(pool: Any) -> tuple[rulebooks.StoredRulebook | None, list[str]]:
        return await rulebooks.show(pool, args.id), [v.id for v in await rulebooks.list_versions(pool)]

    found = _read_database(fetch)
    shown, known = found if found is not None else (_package_shown(args.id), [b.id for b in RULEBOOKS])
    if shown is None:
        raise CliError(f"error: no rulebook version {args.id!r}; known: {', '.join(known)}", EXIT_FAILED)
    if args.json:
        sys.stdout.write(rulebook_text(shown.rulebook))
        return EXIT_OK
    sys.stdout.write("\n".join(_show_lines(shown, from_db=found is not None)) + "\n")
    return EXIT_OK


def _read_file(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise CliError(
            f"error: {path}: not UTF-8 text ({e.reason} at byte {e.start}); nothing was imported", EXIT_USAGE
        ) from None
    except OSError as e:
        raise CliError(f"error: cannot read {path}: {e.strerror}; nothing was imported", EXIT_USAGE) from None


def cmd_import(args: argparse.Namespace) -> int:
    """`hotline rulebook import FILE`: store a successor; the same file twice stores it once."""
    path = Path(args.file)
    text = _read_file(path)
    try:
        book: Rulebook = parse_rulebook(text, source=str(path))
    except RulebookError as e:
        raise CliError(f"error: {e}; nothing was imported", EXIT_USAGE) from None
    by = (args.by or "").strip() or getpass.getuser()
    source = (args.source or "").strip() or path.name

    async def store(pool: Any) -> rulebooks.ImportResult:
        await _seeded(pool)  # tianjin-2021 first, so a successor is checked against it
        return await rulebooks.import_rulebook(pool, book, original=text, entered_by=by, source=source, note=args.note)

    try:
        result = asyncio.run(with_pool(store, max_size=2, migrate=True))
    except DatabaseUnavailableError as e:
        raise CliError(
            f"error: the rulebook import needs the database, which cannot be reached ({e.url}: {e.reason}); "
            "nothing was imported",
            EXIT_FAILED,
        ) from None
    except rulebooks.RulebookRefused as e:
        raise CliError(f"error: {path}: {e}; nothing was imported", EXIT_FAILED) from None
    sys.stdout.write(result.message + "\n")
    return EXIT_OK


# -- wiring ------------------------------------------------------------------------------------


def configure(command: str, rb: argparse.ArgumentParser) -> None:
    """The arguments of `hotline rulebook list|show|import`."""
    rb.description = (
        "The rulebook's versions (Article 14): the package ships tianjin-2021, operators import successors "
        "(format: docs/rulebook-format.md). An order binds the version in force at its transfer for life."
    )
    sub = rb.add_subparsers(dest="rulebook_command", required=True, metavar="{list,show,import}")
    p = sub.add_parser("list", help="every version: when it governs, who entered it; * marks today's")
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("show", help="one version: when it governs, its record, its parameters")
    p.add_argument("id", help="the version's id, e.g. tianjin-2021")
    p.add_argument("--json", action="store_true", help="print only its file (JSON), e.g. to start a successor from")
    p.set_defaults(func=cmd_show)
    p = sub.add_parser(
        "import",
        help="enter a successor from a rulebook file (docs/rulebook-format.md)",
        description="The file is checked whole; a bad file or a version the stored ones do not admit is refused "
        "with one line naming what is wrong, and nothing changes. Importing a stored version again changes "
        "nothing. A successor must take effect after the newest version, and today or later.",
    )
    p.add_argument("file", help="the rulebook file (JSON; docs/rulebook-format.md)")
    p.add_argument("--by", help="who enters it (default: the login name)")
    p.add_argument("--source", help="where it comes from, e.g. the notice's number (default: the file's name)")
    p.add_argument("--note", default="", help="anything worth recording with it")
    p.set_defaults(func=cmd_import)
