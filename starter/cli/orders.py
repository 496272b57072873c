"""`hotline order <action>`, `order start|show|view|list|import`, `hotline desk` and `hotline orgs`: the CLI of
an order's people.

`order show` is the whole order (for the platform, its supervising department, the city hotline);
`order view ORDER --unit ORG` and a unit's `desk` show what that unit sees of an order
(`handling_order`). The pages are drawn by `starter.cli.pages`.

Every subcommand checks its arguments before talking to anything (exit 2 naming the wrong one);
a refusal is printed as the workflow words it (exit 1).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.progress import Progress

from domain.calendar import SHANGHAI
from domain.contract import LATE_FLAGS, Flag, OrderAction, SearchAttribute, visibility_eq, visibility_in
from domain.directory import DISTRICTS, ORGANISATIONS, OrgKind
from domain.errors import InvalidOrder
from domain.models import (
    ACTIONS,
    Action,
    Category,
    ContactMethod,
    NewOrder,
    Phase,
    Platform,
    Role,
    Tier,
    UnitAction,
    Verdict,
    describe_validation_error,
)
from starter.cli.args import flag_problems, instant_arg, org_arg, read_json
from starter.cli.exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CliError
from starter.cli.pages import console, left, render_handling_order, render_status, show, table
from starter.client import HotlineClient, OrderSummary
from starter.errors import ActionRefused, OrderAlreadyRunning, OrderNotFound


def _now_iso() -> str:
    # to the microsecond: a default "now" must never fall before a dispatch made in the same second
    # (a reported instant may not precede the unit's dispatch)
    return datetime.now(SHANGHAI).isoformat()


# -- start -----------------------------------------------------------------------------------------


def parse_new_order(raw: Any, *, now: datetime) -> NewOrder:
    """Validate a NewOrder as the workflow will, before anything is started."""
    if not isinstance(raw, dict):
        raise CliError("NewOrder refused: the input must be a JSON object", EXIT_USAGE)
    try:
        order = NewOrder.model_validate(raw)
        order.check_arrival(now)
    except ValidationError as err:
        raise CliError(f"NewOrder refused: {describe_validation_error(err)}", EXIT_USAGE) from None
    except InvalidOrder as err:
        raise CliError(f"NewOrder refused: {err}", EXIT_USAGE) from None
    return order


def cmd_start(args: argparse.Namespace) -> int:
    """`hotline order start FILE`."""
    order = parse_new_order(read_json(args.file), now=datetime.now(UTC))

    async def main() -> int:
        client = await HotlineClient.connect()
        try:
            run_id = await client.start_order(order)
        except OrderAlreadyRunning:
            raise CliError(
                f"order {order.order_no} is already running (workflow {order.workflow_id}); nothing changed"
            ) from None
        print(json.dumps({"order_no": order.order_no, "workflow_id": order.workflow_id, "run_id": run_id}))
        return EXIT_OK

    return asyncio.run(main())


def cmd_orgs(args: argparse.Namespace) -> int:
    """`hotline orgs`: every org id, its kind and name."""
    for org, (kind, name) in ORGANISATIONS.items():
        print(f"{org:24} {kind.value:20} {name}")
    return EXIT_OK


# -- the actions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActionCommand:
    """How one contract action is spelled on the command line."""

    command: str
    action: OrderAction
    role: Role
    help: str
    args: list[tuple[list[str], dict[str, Any]]] = field(default_factory=list)
    payload: Callable[[argparse.Namespace], dict[str, Any]] = lambda a: {}


def _text(flag: str, help: str, *, required: bool = True) -> tuple[list[str], dict[str, Any]]:
    return ([flag], {"required": required, "help": help})


ACTION_COMMANDS: list[ActionCommand] = [
    ActionCommand("receive", OrderAction.RECEIVE, Role.OPERATOR, "the platform checks the order in (Art. 8.1)"),
    ActionCommand(
        "propose", OrderAction.PROPOSE, Role.OPERATOR, "propose the handling: lead and assisting units (Art. 6.1)",
        [(["--lead"], {"required": True, "type": org_arg, "help": "the lead unit"}),
         (["--assist"], {"action": "append", "default": [], "type": org_arg, "help": "an assisting unit (repeat)"}),
         _text("--opinion", "the proposed handling")],
        lambda a: {"lead_unit": a.lead, "assisting_units": a.assist, "opinion": a.opinion},
    ),
    ActionCommand(
        "review", OrderAction.REVIEW, Role.SUPERVISOR, "approve the proposal or send it back (Art. 4.3)",
        [(["--approve"], {"action": "store_true", "help": "approve and dispatch"}),
         (["--send-back"], {"action": "store_true", "help": "send the proposal back"}),
         _text("--comment", "why", required=False)],
        lambda a: {"approved": bool(a.approve), "comment": a.comment or ""},
    ),
    ActionCommand(
        "return-to-hotline", OrderAction.RETURN_TO_HOTLINE, Role.OPERATOR, "give the order back to the city hotline",
        [_text("--reason", "why")], lambda a: {"reason": a.reason},
    ),
    ActionCommand(
        "contact", OrderAction.CONTACT_REPORTER, Role.HANDLER, "record a contact with the reporter (Art. 8.4)",
        [(["--at"], {"type": instant_arg, "help": "when (default: now)"}),
         (["--method"], {"required": True, "choices": [m.value for m in ContactMethod], "help": "how"}),
         _text("--note", "what was said", required=False)],
        lambda a: {"at": a.at or _now_iso(), "method": a.method, "note": a.note or ""},
    ),
    ActionCommand(
        "return", OrderAction.RETURN_ORDER, Role.HANDLER, "return the handling order within 8 hours (Art. 8.5)",
        [_text("--reason", "why"), _text("--basis", "the written basis")],
        lambda a: {"reason": a.reason, "basis": a.basis},
    ),
    ActionCommand(
        "extend", OrderAction.REQUEST_EXTENSION, Role.HANDLER, "ask for an extension (Art. 8.6)",
        [_text("--reason", "why"),
         (["--until"], {"required": True, "type": instant_arg, "help": "the proposed new deadline"}),
         (["--notified-at"], {"type": instant_arg, "help": "when the reporter was told by phone (default: now)"}),
         _text("--written-reply", "the written reply to the platform")],
        lambda a: {"reason": a.reason, "requested_due": a.until,
                   "reporter_notified_at": a.notified_at or _now_iso(), "written_reply": a.written_reply},
    ),
    ActionCommand(
        "contribute", OrderAction.CONTRIBUTE, Role.HANDLER, "an assisting unit's contribution (Art. 9)",
        [_text("--content", "what was done")], lambda a: {"content": a.content},
    ),
    ActionCommand(
        "release", OrderAction.RELEASE_ASSISTING_UNIT, Role.OPERATOR, "release an assisting unit",
        [(["--unit"], {"required": True, "type": org_arg, "help": "the assisting unit"}), _text("--reason", "why")],
        lambda a: {"unit": a.unit, "reason": a.reason},
    ),
    ActionCommand(
        "result", OrderAction.SUBMIT_RESULT, Role.HANDLER, "the lead unit's result (Art. 7.1)",
        [_text("--result", "what was done"),
         (["--informed-at"], {"type": instant_arg, "help": "when the reporter was told (default: now)"}),
         (["--appeal-material"], {"action": "append", "default": [], "help": "appeal material (repeat)"})],
        lambda a: {"result": a.result, "reporter_informed_at": a.informed_at or _now_iso(),
                   "appeal_materials": a.appeal_material},
    ),
    ActionCommand(
        "review-result", OrderAction.REVIEW_RESULT, Role.OPERATOR,
        "reply to the city hotline with the lead unit's result, or send it back (Art. 6.2)",
        [(["--approve"], {"action": "store_true", "help": "approve: reply to the city hotline"}),
         (["--send-back"], {"action": "store_true", "help": "send the result back to the lead unit"}),
         _text("--comment", "why; with --send-back, what the lead unit must redo (required)", required=False)],
        lambda a: {"approved": bool(a.approve), "comment": a.comment or ""},
    ),
    ActionCommand(
        "forward-extension", OrderAction.FORWARD_EXTENSION, Role.OPERATOR,
        "apply to the city hotline for the lead unit's extension, or decline it (Art. 8.6)",
        [(["--forward"], {"action": "store_true", "help": "apply to the city hotline"}),
         (["--decline"], {"action": "store_true", "help": "decline the request"}),
         _text("--note", "the platform's note; with --decline, why (required)", required=False)],
        lambda a: {"forward": bool(a.forward), "note": a.note or ""},
    ),
    ActionCommand(
        "appeal", OrderAction.FILE_APPEAL, Role.OPERATOR, "contest a dissatisfied verdict (Art. 6.3)",
        [_text("--reason", "why"), (["--material"], {"action": "append", "default": [], "help": "material (repeat)"})],
        lambda a: {"reason": a.reason, "materials": a.material},
    ),
    ActionCommand(
        "withdraw", OrderAction.WITHDRAW, Role.HOTLINE, "the city hotline withdraws the order",
        [_text("--reason", "why")], lambda a: {"reason": a.reason},
    ),
    ActionCommand(
        "callback", OrderAction.CALLBACK, Role.HOTLINE, "the city hotline's callback verdict",
        [(["--verdict"], {"required": True, "choices": [v.value for v in Verdict], "help": "the verdict"}),
         _text("--note", "what the reporter said", required=False)],
        lambda a: {"verdict": a.verdict, "note": a.note or ""},
    ),
    ActionCommand(
        "extension-decision", OrderAction.EXTENSION_DECISION, Role.HOTLINE, "the city hotline decides an extension",
        [(["--approve"], {"action": "store_true", "help": "approve"}),
         (["--refuse"], {"action": "store_true", "help": "refuse"}),
         (["--due"], {"type": instant_arg, "help": "the approved deadline (with --approve)"}),
         _text("--note", "a note", required=False)],
        lambda a: {"approved": bool(a.approve), "approved_due": a.due, "note": a.note or ""},
    ),
    ActionCommand(
        "appeal-decision", OrderAction.APPEAL_DECISION, Role.HOTLINE, "the city hotline decides the appeal",
        [(["--uphold"], {"action": "store_true", "help": "uphold the appeal"}),
         (["--reject"], {"action": "store_true", "help": "reject the appeal"}),
         _text("--note", "a note", required=False)],
        lambda a: {"upheld": bool(a.uphold), "note": a.note or ""},
    ),
]  # fmt: skip

_EXCLUSIVE = {"review": ("approve", "send_back"), "extension-decision": ("approve", "refuse"),
              "appeal-decision": ("uphold", "reject"), "review-result": ("approve", "send_back"),
              "forward-extension": ("forward", "decline")}  # fmt: skip

#: (command, choice) -> (the argument it needs, why): checked before anything is sent
_NEEDS = {("extension-decision", "approve"): ("due", "the approved deadline"),
          ("review-result", "send_back"): ("comment", "what the lead unit must redo"),
          ("forward-extension", "decline"): ("note", "why the request is declined")}  # fmt: skip

#: model field -> the flag that sets it, to name the wrong argument
_FLAG = {
    "lead_unit": "--lead", "assisting_units": "--assist", "requested_due": "--until",
    "reporter_notified_at": "--notified-at", "reporter_informed_at": "--informed-at",
    "appeal_materials": "--appeal-material", "materials": "--material", "approved_due": "--due",
    "actor.org": "--as", "actor.person": "--person", "actor.role": "--role", "request_id": "--request-id",
    "handler.person": "--handler-person", "handler.phone": "--handler-phone",
}  # fmt: skip


def is_unit_action(spec: ActionCommand) -> bool:
    """Whether the action is an assigned unit's (it may name the unit's handler)."""
    return issubclass(ACTIONS[spec.action], UnitAction)


def build_action(spec: ActionCommand, args: argparse.Namespace) -> Action:
    """The action's model from the arguments, or `CliError` (exit 2) naming the wrong argument."""
    pair = _EXCLUSIVE.get(spec.command)
    if pair is not None:
        chosen = [p for p in pair if getattr(args, p)]
        if len(chosen) != 1:
            flags = " or ".join(f"--{p.replace('_', '-')}" for p in pair)
            raise CliError(f"hotline order {spec.command}: give exactly one of {flags}", EXIT_USAGE)
    for (command, choice), (needed, what) in _NEEDS.items():
        if spec.command == command and getattr(args, choice) and not (getattr(args, needed) or "").strip():
            flag, need = f"--{choice.replace('_', '-')}", f"--{needed}"
            raise CliError(f"hotline order {command}: {flag} needs {need} ({what})", EXIT_USAGE)
    raw = {
        "actor": {"org": args.as_org, "person": args.person, "role": args.role or spec.role.value},
        **spec.payload(args),
    }
    if is_unit_action(spec) and (args.handler_person is not None or args.handler_phone is not None):
        if args.handler_person is None:
            raise CliError(
                f"hotline order {spec.command}: --handler-phone needs --handler-person (whose phone it is)", EXIT_USAGE
            )
        raw["handler"] = {"person": args.handler_person}
        if args.handler_phone is not None:
            raw["handler"]["phone"] = args.handler_phone
    if args.request_id:
        raw["request_id"] = args.request_id
    try:
        return ACTIONS[spec.action].model_validate(raw)
    except ValidationError as err:
        raise CliError(f"hotline order {spec.command}: {flag_problems(err.errors(), _FLAG)}", EXIT_USAGE) from None


def _cmd_action(spec: ActionCommand) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        action = build_action(spec, args)

        async def main() -> int:
            client = await HotlineClient.connect()
            if args.signal:
                await client.signal(args.order_no, spec.action, action)
                print(f"{spec.action} sent as a signal to order {args.order_no}")
                return EXIT_OK
            status = await client.act(args.order_no, spec.action, action)
            if args.json:
                print(status.model_dump_json(indent=2))
            else:
                print(f"{spec.action}: done. Order {status.order_no} is {status.phase.value}; "
                      f"it waits for {status.waiting_for}.")  # fmt: skip
            return EXIT_OK

        return asyncio.run(main())

    return run


# -- show / list / desk ---------------------------------------------------------------------------


def cmd_show(args: argparse.Namespace) -> int:
    """`hotline order show`."""

    async def main() -> int:
        client = await HotlineClient.connect()
        status = await client.status(args.order_no)
        if args.json:
            print(status.model_dump_json(indent=2))
        else:
            render_status(status, now=datetime.now(UTC))
        return EXIT_OK

    return asyncio.run(main())


#: Visibility clause of a running workflow (Temporal's own search attribute).
RUNNING = "ExecutionStatus = 'Running'"


def list_query(args: argparse.Namespace) -> str:
    """The visibility query of `order list`'s filters (search attributes only)."""
    parts = []
    for attribute, value in (
        (SearchAttribute.ORDER_PHASE, args.phase),
        (SearchAttribute.ORDER_TIER, args.tier),
        (SearchAttribute.ORDER_CATEGORY, args.category),
        (SearchAttribute.ORDER_DISTRICT, args.district),
        (SearchAttribute.ORDER_UNITS, args.unit),
    ):
        if value:
            parts.append(visibility_eq(attribute, value))
    if args.late:
        parts.append(visibility_in(SearchAttribute.ORDER_FLAGS, LATE_FLAGS))
    if args.due_before:
        when = datetime.fromisoformat(args.due_before).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        parts.append(f"{SearchAttribute.COMPLETION_DUE.value} < '{when}'")
    if not args.all:
        parts.append(RUNNING)
    return " AND ".join(parts)


def _print_orders(rows: list[OrderSummary], *, now: datetime, title: str) -> None:
    c = console()
    t = table(c, title, ["order", "phase", "tier", "category", "district", "units", "due", "left", "flags"])
    for r in rows:
        due = r.receipt_due if r.phase == Phase.AWAITING_RECEIPT.value else r.completion_due
        t.add_row(r.order_no, r.phase, r.tier, r.category, r.district, ",".join(r.units),
                  due.astimezone(SHANGHAI).strftime("%m-%d %H:%M") if due else "",
                  left(due, now) if due else "", ",".join(r.flags))  # fmt: skip
    show(c, t, title)


def cmd_list(args: argparse.Namespace) -> int:
    """`hotline order list`."""
    query = list_query(args)

    async def main() -> int:
        client = await HotlineClient.connect()
        rows = [r async for r in client.list_orders(query, limit=args.limit)]
        if args.json:
            for r in rows:
                print(json.dumps({**r.__dict__, **{k: v.isoformat() if isinstance(v, datetime) else v
                                                   for k, v in r.__dict__.items()}}, ensure_ascii=False))  # fmt: skip
        else:
            _print_orders(rows, now=datetime.now(UTC), title=f"{len(rows)} order(s)")
        return EXIT_OK

    return asyncio.run(main())


#: The phases in which an order waits for its platform: receipt, a proposal, the review of a result,
#: the re-handling it urges, an appeal it may file.
PLATFORM_WAITS = (Phase.AWAITING_RECEIPT, Phase.RECEIVED, Phase.RESULT_REVIEW, Phase.REHANDLING, Phase.APPEAL_WINDOW)
#: The phases in which an order waits for the city hotline: its callback, its appeal decision.
HOTLINE_WAITS = (Phase.AWAITING_CALLBACK, Phase.APPEALING)
#: The phases in which an order waits for its units.
UNIT_WAITS = (Phase.IN_HANDLING, Phase.REHANDLING)


def _is_unit(org: str) -> bool:
    kind = ORGANISATIONS[org][0]
    return kind in (OrgKind.DIVISION, OrgKind.COMMISSION_UNIT, OrgKind.DISTRICT_COMMISSION) or org == Platform.UTILITIES


def desk_query(org: str) -> str:
    """What may be on ``org``'s desk: the phases in which the next move is that org's.

    An order flagged `extension_pending` is a candidate for its platform's and the city hotline's
    desks: which of the two the request waits at is in the order's status (`on_desk`).
    """
    phase, platform = SearchAttribute.ORDER_PHASE, SearchAttribute.ORDER_PLATFORM
    pending = visibility_eq(SearchAttribute.ORDER_FLAGS, Flag.EXTENSION_PENDING)
    parts = []
    if org in (Platform.CENTER, Platform.UTILITIES):
        parts.append(f"({visibility_eq(platform, org)} AND ({visibility_in(phase, PLATFORM_WAITS)} OR {pending}))")
    if org == "dept-hotline":
        parts.append(f"({visibility_eq(platform, Platform.CENTER)} AND {visibility_eq(phase, Phase.IN_REVIEW)})")
    if org == Platform.UTILITIES:
        parts.append(f"({visibility_eq(platform, Platform.UTILITIES)} AND {visibility_eq(phase, Phase.IN_REVIEW)})")
    if org == "hotline":
        parts.append(f"({visibility_in(phase, HOTLINE_WAITS)} OR {pending})")
    if _is_unit(org):
        parts.append(f"({visibility_eq(SearchAttribute.ORDER_UNITS, org)} AND {visibility_in(phase, UNIT_WAITS)})")
    return f"{RUNNING} AND (" + " OR ".join(parts) + ")"


def extension_waits_at(org: str, row: OrderSummary) -> str | None:
    """Where an extension request must wait for ``row`` to be on ``org``'s desk, or None when it is there anyway."""
    try:
        phase: Phase | None = Phase(row.phase)
    except ValueError:
        phase = None
    if org in (Platform.CENTER, Platform.UTILITIES) and row.platform == org:
        if phase in PLATFORM_WAITS or (phase in UNIT_WAITS and org in row.units) or phase is Phase.IN_REVIEW:
            return None
        return "platform"
    if org == "hotline":
        return None if phase in HOTLINE_WAITS else "hotline"
    return None


async def on_desk(client: HotlineClient, org: str, row: OrderSummary) -> bool:
    """Whether ``row`` waits for ``org``: an order listed only for its pending extension is on the desk
    of the party the request waits at (the platform forwards it, the city hotline decides it)."""
    where = extension_waits_at(org, row)
    if where is None:
        return True
    try:
        status = await client.status(row.order_no)
    except (ActionRefused, OrderNotFound):
        return False
    pending = next((e for e in status.extensions if e.decision is None), None)
    return pending is not None and pending.waits_at == where


def cmd_desk(args: argparse.Namespace) -> int:
    """`hotline desk ORG`: the org's orders, most urgent first; for a unit, what it sees of each."""
    query = desk_query(args.org)

    async def main() -> int:
        client = await HotlineClient.connect()
        rows = [r async for r in client.list_orders(query)]
        rows = [r for r in rows if await on_desk(client, args.org, r)]
        far = datetime.max.replace(tzinfo=UTC)

        def due(r: OrderSummary) -> datetime:
            d = r.receipt_due if r.phase == Phase.AWAITING_RECEIPT.value else r.completion_due
            return d or far

        rows.sort(key=due)
        now = datetime.now(UTC)
        _print_orders(rows, now=now, title=f"{args.org}: {len(rows)} order(s), most urgent first")
        if args.brief or not _is_unit(args.org):
            return EXIT_OK
        for r in rows:
            if args.org not in r.units:
                continue
            try:
                view = await client.handling_order(r.order_no, args.org)
            except (ActionRefused, OrderNotFound) as err:  # returned or closed since it was listed
                print(f"\n{r.order_no}: {err}")
                continue
            print()
            render_handling_order(view, now=now)
        return EXIT_OK

    return asyncio.run(main())


def cmd_view(args: argparse.Namespace) -> int:
    """`hotline order view ORDER --unit ORG`: what the unit sees (its handling order)."""

    async def main() -> int:
        client = await HotlineClient.connect()
        view = await client.handling_order(args.order_no, args.unit)
        if args.json:
            print(view.model_dump_json(indent=2))
        else:
            render_handling_order(view, now=datetime.now(UTC))
        return EXIT_OK

    return asyncio.run(main())


# -- import ---------------------------------------------------------------------------------------


@dataclass
class ImportSummary:
    """What `order import` did, line by line."""

    started: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)


def parse_import_line(n: int, line: str, now: datetime) -> NewOrder:
    """One NDJSON line as a NewOrder, or ValueError with the reason."""
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as err:
        raise ValueError(f"not JSON: {err.msg} at column {err.colno}") from None
    if not isinstance(raw, dict):
        raise ValueError("not a JSON object")
    try:
        order = NewOrder.model_validate(raw)
        order.check_arrival(now)
    except ValidationError as err:
        raise ValueError(describe_validation_error(err)) from None
    except Exception as err:
        raise ValueError(str(err)) from None
    return order


async def import_orders(
    client: HotlineClient, lines: list[str], *, progress: Callable[[int], object] | None = None
) -> ImportSummary:
    """Start each valid line's order; a bad line never stops the others; a rerun starts nothing twice.

    An order number that ever ran (running, or closed since) is "already started": the file is the
    city hotline's transfers of one batch, and a rerun must not start a returned or withdrawn order
    anew. A transfer again under the same number is `hotline order start`'s.
    """
    summary = ImportSummary()
    now = datetime.now(UTC)
    for n, line in enumerate(lines, start=1):
        if progress is not None:
            progress(n)
        if not line.strip():
            continue
        try:
            order = parse_import_line(n, line, now)
        except ValueError as err:
            summary.refused.append((n, str(err)))
            continue
        if await client.exists(order.order_no):
            summary.already.append(order.order_no)
            continue
        try:
            await client.start_order(order)
        except OrderAlreadyRunning:  # started by someone else since we looked
            summary.already.append(order.order_no)
            continue
        summary.started.append(order.order_no)
    return summary


def cmd_import(args: argparse.Namespace) -> int:
    """`hotline order import FILE`."""
    path = Path(args.file)
    try:
        lines = (sys.stdin.read() if args.file == "-" else path.read_text(encoding="utf-8")).splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise CliError(f"hotline order import: cannot read {args.file}: {err}", EXIT_USAGE) from None

    async def main() -> int:
        client = await HotlineClient.connect()
        if sys.stderr.isatty():
            with Progress(transient=True) as bar:
                task = bar.add_task("starting orders", total=len(lines))
                summary = await import_orders(client, lines, progress=lambda n: bar.update(task, completed=n))
        else:
            summary = await import_orders(client, lines)
        print(f"started {len(summary.started)}, already started {len(summary.already)}, "
              f"refused {len(summary.refused)}")  # fmt: skip
        for n, reason in summary.refused:
            print(f"  line {n}: {reason}")
        return EXIT_OK if not summary.refused else EXIT_FAILED

    return asyncio.run(main())


# -- wiring ---------------------------------------------------------------------------------------


def _positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if n <= 0:
        raise argparse.ArgumentTypeError(f"{value} is not positive")
    return n


def _order_actions(order_sub: Any) -> None:
    """One `hotline order <action>` per contract action."""
    for spec in ACTION_COMMANDS:
        p = order_sub.add_parser(spec.command, help=spec.help, description=f"{spec.help}. Sends `{spec.action}`.")
        p.add_argument("order_no", help="the order number")
        p.add_argument("--as", dest="as_org", required=True, type=org_arg, help="the org acting")
        p.add_argument("--person", required=True, help="name or staff id of the person acting")
        p.add_argument("--role", choices=[r.value for r in Role], help=f"the role (default: {spec.role.value})")
        p.add_argument("--request-id", help="makes a repeated action take effect once")
        p.add_argument("--signal", action="store_true", help="send as a signal (fire-and-forget)")
        p.add_argument("--json", action="store_true", help="print the order's status as JSON")
        for flags, kw in spec.args:
            p.add_argument(*flags, **kw)
        if is_unit_action(spec):
            p.add_argument("--handler-person", help="names (or renames) the unit's handler (专人, Art. 8.4); "
                           "without it, the person of the unit's first action is")  # fmt: skip
            p.add_argument("--handler-phone", help="how the platform reaches the handler (with --handler-person)")
        p.set_defaults(func=_cmd_action(spec))


def _order(parser: argparse.ArgumentParser) -> None:
    osub = parser.add_subparsers(dest="order_command", required=True, metavar="ACTION")
    p = osub.add_parser("start", help="start one order from a NewOrder JSON file (- for stdin)")
    p.add_argument("file", help="path of the JSON file, or - for standard input")
    p.set_defaults(func=cmd_start)

    p = osub.add_parser("show", help="a readable page of one order (--json for the raw status)")
    p.add_argument("order_no")
    p.add_argument("--json", action="store_true", help="the raw `status` query answer")
    p.set_defaults(func=cmd_show)

    p = osub.add_parser(
        "view",
        help="what a unit sees of an order: its handling order (--json for the raw `handling_order` answer)",
    )
    p.add_argument("order_no")
    p.add_argument("--unit", required=True, type=org_arg, help="the unit whose handling order to show")
    p.add_argument("--json", action="store_true", help="the raw `handling_order` query answer")
    p.set_defaults(func=cmd_view)

    p = osub.add_parser("list", help="orders by phase, tier, category, district, unit, lateness, due")
    p.add_argument("--phase", choices=[x.value for x in Phase])
    p.add_argument("--tier", choices=[x.value for x in Tier])
    p.add_argument("--category", choices=[x.value for x in Category])
    p.add_argument("--district", choices=list(DISTRICTS))
    p.add_argument("--unit", type=org_arg, help="assigned unit")
    p.add_argument("--late", action="store_true", help="only orders with a missed deadline")
    p.add_argument("--due-before", type=instant_arg, help="completion due before this instant")
    p.add_argument("--all", action="store_true", help="closed orders too")
    p.add_argument("--limit", type=_positive, default=200)
    p.add_argument("--json", action="store_true", help="NDJSON")
    p.set_defaults(func=cmd_list)

    p = osub.add_parser("import", help="start many orders from an NDJSON file of NewOrder lines")
    p.add_argument("file", help="the NDJSON file, or - for standard input")
    p.set_defaults(func=cmd_import)

    _order_actions(osub)


def _desk(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("org", type=org_arg)
    parser.add_argument("--brief", action="store_true", help="a unit's desk without its handling orders: the list only")
    parser.set_defaults(func=cmd_desk)


def _orgs(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(func=cmd_orgs)


def configure(command: str, parser: argparse.ArgumentParser) -> None:
    """The arguments of `hotline order`, `hotline desk` and `hotline orgs`."""
    {"order": _order, "desk": _desk, "orgs": _orgs}[command](parser)
