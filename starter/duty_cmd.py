"""`hotline kb …` and `hotline duty …`: the knowledge base and the holiday on-duty roster."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from domain.calendar import SHANGHAI
from domain.directory import ORGANISATIONS

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
KINDS = ("regulation", "realtime", "hot_topic", "training")


def _org(value: str) -> str:
    if value not in ORGANISATIONS:
        raise argparse.ArgumentTypeError(f"unknown org {value!r}; see `hotline orgs`")
    return value


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date; allowed: YYYY-MM-DD") from None


def _month(value: str) -> date:
    try:
        return datetime.strptime(value, "%Y-%m").replace(tzinfo=UTC).date()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a month; allowed: YYYY-MM") from None


async def _pool() -> Any:
    from activities.db import apply_migrations
    from starter.db import DatabaseUnavailableError, open_pool

    try:
        pool = await open_pool(max_size=2, json_codecs=True)
    except DatabaseUnavailableError as err:
        raise SystemExit(f"hotline: {err}") from None
    async with pool.acquire() as conn:
        await apply_migrations(conn)
    return pool


def _run(coro: Any) -> int:
    try:
        return int(asyncio.run(coro))
    except SystemExit as err:
        print(err.code, file=sys.stderr)
        return EXIT_FAILED


def _cmd_kb_submit(args: argparse.Namespace) -> int:
    try:
        content = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        print(f"hotline kb submit: cannot read {args.file}: {err}", file=sys.stderr)
        return EXIT_USAGE
    if not content.strip():
        print(f"hotline kb submit: {args.file} is empty", file=sys.stderr)
        return EXIT_USAGE
    month = args.month or datetime.now(SHANGHAI).date()

    async def main() -> int:
        from activities.duties import submit_kb

        pool = await _pool()
        try:
            sid = await submit_kb(
                pool, args.org, kind=args.kind, title=args.title, content=content,
                by=args.by or getpass.getuser(), month=month,
            )  # fmt: skip
        finally:
            await pool.close()
        print(f"submitted #{sid}: {args.kind} from {args.org} for {month.isoformat()[:7]}")
        return EXIT_OK

    return _run(main())


def _cmd_kb_list(args: argparse.Namespace) -> int:
    async def main() -> int:
        pool = await _pool()
        try:
            rows = await pool.fetch(
                """SELECT id, org, kind, title, month, submitted_by, submitted_at FROM kb_submissions
                   WHERE ($1::text IS NULL OR org = $1) AND ($2::text IS NULL OR kind = $2)
                     AND ($3::date IS NULL OR month = $3) ORDER BY submitted_at DESC LIMIT 500""",
                args.org, args.kind, args.month,
            )  # fmt: skip
        finally:
            await pool.close()
        for r in rows:
            print(f"#{r['id']:<5} {r['month'].isoformat()[:7]}  {r['org']:24} {r['kind']:10} {r['title']}")
        print(f"{len(rows)} submission(s)")
        return EXIT_OK

    return _run(main())


def _cmd_duty_set(args: argparse.Namespace) -> int:
    async def main() -> int:
        from activities import calendar_store
        from activities.duties import set_roster

        pool = await _pool()
        try:
            calendar = await calendar_store.load_calendar(pool)
            brk = calendar.break_containing(args.break_start)
            if brk is None or brk.start != args.break_start:
                starts = [b.start.isoformat() for b in calendar.breaks_in_year(args.break_start.year)]
                print(
                    f"hotline duty set: {args.break_start} is not the first day of a holiday break; "
                    f"allowed in {args.break_start.year}: {', '.join(starts) or 'none known'}",
                    file=sys.stderr,
                )
                return EXIT_USAGE
            await set_roster(pool, brk, args.org, name=args.name, phone=args.phone, by=args.by or getpass.getuser())
        finally:
            await pool.close()
        print(f"on duty for {args.org} during the {brk.days}-day {brk.name} break ({brk.start}..{brk.end}): set")
        return EXIT_OK

    return _run(main())


def _cmd_duty_show(args: argparse.Namespace) -> int:
    async def main() -> int:
        from activities import calendar_store
        from activities.duties import ROSTER_ORGS

        pool = await _pool()
        try:
            calendar = await calendar_store.load_calendar(pool)
            year = args.year or datetime.now(SHANGHAI).year
            for b in calendar.breaks_in_year(year):
                rows = await pool.fetch(
                    "SELECT org, contact_name FROM duty_roster WHERE break_start = $1 ORDER BY org", b.start
                )
                have = {r["org"] for r in rows}
                missing = [o for o in ROSTER_ORGS if o not in have]
                state = "complete" if not missing else f"missing {', '.join(missing)}"
                print(f"{b.start}..{b.end} {b.days:>2}d {b.name:24} {state}")
                for r in rows:
                    print(f"    {r['org']:24} {r['contact_name']}")  # the phone stays in the database
        finally:
            await pool.close()
        return EXIT_OK

    return _run(main())


def register(subparsers: Any) -> None:
    """Add `kb` and `duty` to the `hotline` command."""
    kb = subparsers.add_parser("kb", help="the knowledge base: regulations, real-time, hot topics, training (Art. 11)")
    kbs = kb.add_subparsers(dest="kb_command", required=True, metavar="{submit,list}")
    p = kbs.add_parser("submit", help="submit material for an org")
    p.add_argument("org", type=_org)
    p.add_argument("--kind", required=True, choices=KINDS)
    p.add_argument("--title", required=True)
    p.add_argument("--file", required=True, help="the material (text), or - for standard input")
    p.add_argument("--month", type=_month, help="the month it counts for (default: this month)")
    p.add_argument("--by", help="who submits (default: the login name)")
    p.set_defaults(func=_cmd_kb_submit)
    p = kbs.add_parser("list", help="list submissions")
    p.add_argument("--org", type=_org)
    p.add_argument("--kind", choices=KINDS)
    p.add_argument("--month", type=_month)
    p.set_defaults(func=_cmd_kb_list)

    duty = subparsers.add_parser("duty", help="the holiday on-duty roster (Arts. 4.7, 5.7, 6.7)")
    ds = duty.add_subparsers(dest="duty_command", required=True, metavar="{set,show}")
    p = ds.add_parser("set", help="enter an org's on-duty contact for a holiday break")
    p.add_argument("break_start", type=_day, help="first day of the break, e.g. 2026-10-01")
    p.add_argument("org", type=_org)
    p.add_argument("--name", required=True)
    p.add_argument("--phone", required=True)
    p.add_argument("--by")
    p.set_defaults(func=_cmd_duty_set)
    p = ds.add_parser("show", help="a year's breaks and whether each roster is complete")
    p.add_argument("year", nargs="?", type=int)
    p.set_defaults(func=_cmd_duty_show)
