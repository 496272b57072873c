"""`hotline kb submit|list`: the knowledge base (Article 11): regulations, real-time, hot topics, training.

Every entry goes to the city hotline through its outbox (报送, Arts. 4.6, 5.4, 6.6, 11), once: the
consumer of `hotline outbox claim hotline` gets one `knowledge_base` or `training_material` message
per entry. Submitting the same entry again stores and sends nothing.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from activities.store.duties import KB_KINDS, Submitted, list_kb, submit_kb
from domain.calendar import SHANGHAI
from starter.cli.args import org_arg
from starter.cli.db import run_with_pool
from starter.cli.exits import EXIT_OK, EXIT_USAGE, CliError


def month_arg(value: str) -> date:
    """A month ``YYYY-MM`` as its first day."""
    try:
        return datetime.strptime(value, "%Y-%m").replace(tzinfo=UTC).date()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a month; allowed: YYYY-MM") from None


def cmd_submit(args: argparse.Namespace) -> int:
    """`hotline kb submit ORG --kind K --title T --file F`."""
    try:
        content = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise CliError(f"hotline kb submit: cannot read {args.file}: {err}", EXIT_USAGE) from None
    if not content.strip():
        raise CliError(f"hotline kb submit: {args.file} is empty", EXIT_USAGE)
    month = args.month or datetime.now(SHANGHAI).date()

    async def submit(pool: Any) -> Submitted:
        return await submit_kb(
            pool, args.org, kind=args.kind, title=args.title, content=content,
            by=args.by or getpass.getuser(), month=month,
        )  # fmt: skip

    done = run_with_pool("kb", submit, max_size=2, json_codecs=True, migrate=True)
    if not done.created:
        at = done.submitted_at.isoformat(timespec="seconds")
        print(
            f"already submitted as #{done.id} by {done.submitted_by} at {at}; nothing stored or sent again "
            f"(city-hotline message {done.message_id})"
        )
        return EXIT_OK
    print(
        f"submitted #{done.id}: {args.kind} from {args.org} for {month.isoformat()[:7]}; "
        f"sent to the city hotline as message {done.message_id}"
    )
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    """`hotline kb list [--org] [--kind] [--month]`."""

    async def fetch(pool: Any) -> list[Any]:
        return await list_kb(pool, org=args.org, kind=args.kind, month=args.month)

    rows = run_with_pool("kb", fetch, max_size=2, json_codecs=True, migrate=True)
    for r in rows:
        to_hotline = r["reported"] or "-"
        print(f"#{r['id']:<5} {r['month'].isoformat()[:7]}  {r['org']:24} {r['kind']:10} {to_hotline:8} {r['title']}")
    print(f"{len(rows)} submission(s)")
    return EXIT_OK


def configure(command: str, kb: argparse.ArgumentParser) -> None:
    """The arguments of `hotline kb submit|list`."""
    kbs = kb.add_subparsers(dest="kb_command", required=True, metavar="{submit,list}")
    p = kbs.add_parser(
        "submit",
        help="submit material for an org; it goes to the city hotline's outbox once",
        description="Stores the entry and its message to the city hotline (kind knowledge_base, or "
        "training_material for --kind training) in one transaction. The same entry again changes nothing.",
    )
    p.add_argument("org", type=org_arg)
    p.add_argument("--kind", required=True, choices=KB_KINDS)
    p.add_argument("--title", required=True)
    p.add_argument("--file", required=True, help="the material (text), or - for standard input")
    p.add_argument("--month", type=month_arg, help="the month it counts for (default: this month)")
    p.add_argument("--by", help="who submits (default: the login name)")
    p.set_defaults(func=cmd_submit)
    p = kbs.add_parser("list", help="list submissions and where their message to the city hotline is")
    p.add_argument("--org", type=org_arg)
    p.add_argument("--kind", choices=KB_KINDS)
    p.add_argument("--month", type=month_arg)
    p.set_defaults(func=cmd_list)
