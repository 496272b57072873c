"""`hotline outbox claim|ack|list`: take notifications and city-hotline messages out of the outboxes.

The database is ``HOTLINE_DATABASE_URL``. Exit codes (`starter.cli.exits`): 0 done, 1 the database
could not be used or (``ack``) an id could not be acknowledged, 2 bad arguments (checked before the
database is touched).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar, get_args

from activities.store import outbox
from domain.calendar import SHANGHAI
from starter.cli.db import run_with_pool
from starter.cli.exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE

#: Body characters shown per row of `outbox list`.
BODY_WIDTH = 60

_BOXES = get_args(outbox.Box)
_STATES = get_args(outbox.State)
_MAX_ID = 2**63 - 1

T = TypeVar("T")


# -- argument types (argparse names the argument and exits 2) ------------------------------------


def _positive_int(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number; allowed: 1 or more") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not positive; allowed: 1 or more")
    return n


def _message_id(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a message id; allowed: a whole number ≥ 1") from None
    if not 1 <= n <= _MAX_ID:
        raise argparse.ArgumentTypeError(f"{value!r} is not a message id; allowed: a whole number ≥ 1")
    return n


def _seconds(value: str) -> timedelta:
    try:
        s = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not 0 < s <= 7 * 86400:
        raise argparse.ArgumentTypeError(f"{value!r} is out of range; allowed: more than 0, at most 604800")
    return timedelta(seconds=s)


def _name(value: str) -> str:
    if not value.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return value


# -- the database ------------------------------------------------------------------------------


def _run(fn: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``fn(pool)``; a database that cannot be used is one line on stderr and exit 1 (`CliError`)."""
    return run_with_pool("outbox", fn)


def _recipient_ok(args: argparse.Namespace) -> bool:
    if args.recipient is not None and args.box != "notifications":
        print(
            f"hotline outbox {args.outbox_command}: error: argument --recipient: only the "
            "notifications box has recipients; the hotline box has none",
            file=sys.stderr,
        )
        return False
    return True


# -- commands ----------------------------------------------------------------------------------


def cmd_claim(args: argparse.Namespace) -> int:
    """Claim messages for a consumer and print them as NDJSON, oldest first."""
    if not _recipient_ok(args):
        return EXIT_USAGE

    async def work(pool: Any) -> int:
        messages = await outbox.claim(
            pool,
            args.box,
            consumer=args.consumer,
            limit=args.limit,
            lease=args.lease,
            recipient=args.recipient,
        )
        for m in messages:
            sys.stdout.write(m.model_dump_json() + "\n")
        sys.stdout.flush()
        until = f" until {_when(messages[0].claimed_until)}" if messages else ""
        print(f"claimed {len(messages)} message(s) for {args.consumer}{until}", file=sys.stderr)
        return EXIT_OK

    return _run(work)


def cmd_ack(args: argparse.Namespace) -> int:
    """Acknowledge messages; exit 1, saying why, when any id could not be acknowledged."""

    async def work(pool: Any) -> outbox.AckResult:
        return await outbox.ack(pool, args.box, consumer=args.consumer, ids=args.ids)

    result = _run(work)
    ids = ", ".join(str(i) for i in result.acked) or "none"
    print(f"acknowledged {len(result.acked)} message(s) for {args.consumer}: {ids}")
    for i, by in sorted(result.already_acked.items()):
        if by == args.consumer:
            print(f"{i}: already acknowledged by {by}; nothing to do")
    refusals = result.refusals()
    for line in refusals:
        print(f"not acknowledged: {line}", file=sys.stderr)
    return EXIT_OK if result.ok else EXIT_FAILED


def cmd_list(args: argparse.Namespace) -> int:
    """Print a box's messages as a table; claims nothing."""
    if not _recipient_ok(args):
        return EXIT_USAGE

    async def work(pool: Any) -> list[outbox.OutboxMessage]:
        return await outbox.list_messages(
            pool,
            args.box,
            state=args.state,
            recipient=args.recipient,
            order_no=args.order,
            limit=args.limit,
        )

    result = _run(work)
    sys.stdout.write(render_table(args.box, result))
    more = " (the limit; --limit shows more)" if len(result) == args.limit else ""
    print(f"{len(result)} message(s){more}")
    return EXIT_OK


def _when(t: datetime | None) -> str:
    return "-" if t is None else t.astimezone(SHANGHAI).isoformat(timespec="seconds")


def _short(text: str) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= BODY_WIDTH else one_line[: BODY_WIDTH - 1] + "…"


def render_table(box: str, messages: list[outbox.OutboxMessage]) -> str:
    """A plain-text table, one message a row, the body (shortened) last; times in +08:00."""
    header = ["id", "state", "order", "kind"]
    if box == "notifications":
        header += ["route", "due"]
    header += ["event_at", "claimed_by", "claimed_until", "acked_at", "body"]
    rows = [header]
    for m in messages:
        row = [str(m.id), m.state, m.order_no, m.kind]
        if box == "notifications":
            row += [m.route or "-", _when(m.due)]
        row += [_when(m.event_at), m.claimed_by or "-", _when(m.claimed_until), _when(m.acked_at), _short(m.body)]
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header) - 1)]
    return "".join(
        "  ".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1] + "\n" for r in rows
    )


# -- wiring ------------------------------------------------------------------------------------


def configure(command: str, ob: argparse.ArgumentParser) -> None:
    """The arguments of `hotline outbox claim|ack|list`."""
    ob.description = (
        "Consumers claim messages for a lease, deliver them, and acknowledge them; a "
        "claim not acknowledged within its lease comes back for any consumer. Several consumers "
        "may run at once: none gets a message another holds."
    )
    osub = ob.add_subparsers(dest="outbox_command", required=True, metavar="{claim,ack,list}")
    box_help = "notifications (to orgs and on-duty contacts) or hotline (to the city hotline)"
    recipient_help = (
        "notifications only: an org id takes that org's messages, its own and its on-duty copies; "
        "duty:ORG only the on-duty copies"
    )

    p = osub.add_parser("claim", help="claim pending messages; prints them as NDJSON, oldest first")
    p.add_argument("box", choices=_BOXES, help=box_help)
    p.add_argument(
        "--consumer", required=True, type=_name, metavar="NAME", help="this consumer's name (ack gives the same)"
    )
    p.add_argument("--limit", type=_positive_int, default=10, metavar="N", help="at most this many (default 10)")
    p.add_argument(
        "--lease",
        type=_seconds,
        default=timedelta(seconds=60),
        metavar="SECONDS",
        help="how long the claim holds before the messages come back (default 60)",
    )
    p.add_argument("--recipient", metavar="ORG", help=recipient_help)
    p.set_defaults(func=cmd_claim)

    p = osub.add_parser("ack", help="acknowledge claimed messages: they are never handed out again")
    p.add_argument("box", choices=_BOXES, help=box_help)
    p.add_argument(
        "--consumer", required=True, type=_name, metavar="NAME", help="the name the messages were claimed under"
    )
    p.add_argument("ids", nargs="+", type=_message_id, metavar="ID", help="message ids from claim")
    p.set_defaults(func=cmd_ack)

    p = osub.add_parser("list", help="show messages as a table (claims nothing)")
    p.add_argument("box", choices=_BOXES, help=box_help)
    p.add_argument(
        "--state",
        choices=_STATES,
        default="all",
        help="pending (claimable, including expired claims), claimed (under a lease), acked, all (default)",
    )
    p.add_argument("--recipient", metavar="ORG", help=recipient_help)
    p.add_argument("--order", metavar="ORDER_NO", help="only this order's messages")
    p.add_argument("--limit", type=_positive_int, default=50, metavar="N", help="at most this many (default 50)")
    p.set_defaults(func=cmd_list)
