"""`hotline duty set|show`: the holiday on-duty roster (Articles 4.7, 5.7, 6.7)."""

from __future__ import annotations

import argparse
import getpass
from datetime import date, datetime
from typing import Any

from activities.store import calendar_store
from activities.store.duties import ROSTER_ORGS, roster_of, set_roster
from domain.calendar import SHANGHAI, HolidayBreak
from starter.cli.args import org_arg
from starter.cli.db import run_with_pool
from starter.cli.exits import EXIT_OK, EXIT_USAGE, CliError


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date; allowed: YYYY-MM-DD") from None


def cmd_set(args: argparse.Namespace) -> int:
    """`hotline duty set BREAK_START ORG --name N --phone P`."""

    async def enter(pool: Any) -> HolidayBreak:
        calendar = await calendar_store.load_calendar(pool)
        brk = calendar.break_containing(args.break_start)
        if brk is None or brk.start != args.break_start:
            starts = [b.start.isoformat() for b in calendar.breaks_in_year(args.break_start.year)]
            raise CliError(
                f"hotline duty set: {args.break_start} is not the first day of a holiday break; "
                f"allowed in {args.break_start.year}: {', '.join(starts) or 'none known'}",
                EXIT_USAGE,
            )
        await set_roster(pool, brk, args.org, name=args.name, phone=args.phone, by=args.by or getpass.getuser())
        return brk

    brk = run_with_pool("duty", enter, max_size=2, json_codecs=True, migrate=True)
    print(f"on duty for {args.org} during the {brk.days}-day {brk.name} break ({brk.start}..{brk.end}): set")
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    """`hotline duty show [YEAR]`: a year's breaks and whether each roster is complete."""

    async def show(pool: Any) -> list[str]:
        calendar = await calendar_store.load_calendar(pool)
        year = args.year or datetime.now(SHANGHAI).year
        lines = []
        for b in calendar.breaks_in_year(year):
            roster = await roster_of(pool, b)
            have = {org for org, _ in roster}
            missing = [o for o in ROSTER_ORGS if o not in have]
            state = "complete" if not missing else f"missing {', '.join(missing)}"
            lines.append(f"{b.start}..{b.end} {b.days:>2}d {b.name:24} {state}")
            lines += [f"    {org:24} {name}" for org, name in roster]  # the phone stays in the database
        return lines

    for line in run_with_pool("duty", show, max_size=2, json_codecs=True, migrate=True):
        print(line)
    return EXIT_OK


def configure(command: str, duty: argparse.ArgumentParser) -> None:
    """The arguments of `hotline duty set|show`."""
    ds = duty.add_subparsers(dest="duty_command", required=True, metavar="{set,show}")
    p = ds.add_parser("set", help="enter an org's on-duty contact for a holiday break")
    p.add_argument("break_start", type=_day, help="first day of the break, e.g. 2026-10-01")
    p.add_argument("org", type=org_arg)
    p.add_argument("--name", required=True)
    p.add_argument("--phone", required=True)
    p.add_argument("--by")
    p.set_defaults(func=cmd_set)
    p = ds.add_parser("show", help="a year's breaks and whether each roster is complete")
    p.add_argument("year", nargs="?", type=int)
    p.set_defaults(func=cmd_show)
