"""`hotline inquiry ask|answer|reassign|show`: doubtful orders (存疑工单, Article 7.3) from the shell.

Every subcommand checks its arguments before talking to anything (exit 2 naming the wrong one);
a refusal is printed as the workflow words it (exit 1), and so is an unknown inquiry.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain.calendar import SHANGHAI
from domain.contract import DOUBTFUL_ORDER, STATUS_QUERY, InquiryAction, inquiry_workflow_id
from domain.errors import InvalidOrder
from domain.inquiry import INQUIRY_ACTIONS, InquiryStatus, NewInquiry
from domain.models import Action, Role, describe_validation_error
from starter.cli.args import flag_problems, org_arg, read_json
from starter.cli.exits import EXIT_OK, EXIT_USAGE, CliError
from starter.client import HotlineClient, refusal

#: model field -> the flag that sets it, to name the wrong argument
_FLAG = {"actor.org": "--as", "actor.person": "--person", "actor.role": "--role", "request_id": "--request-id"}


# -- ask -------------------------------------------------------------------------------------------


def parse_new_inquiry(raw: Any, *, now: datetime) -> NewInquiry:
    """Validate a NewInquiry as the workflow will, before anything is started."""
    if not isinstance(raw, dict):
        raise CliError("NewInquiry refused: the input must be a JSON object", EXIT_USAGE)
    try:
        inquiry = NewInquiry.model_validate(raw)
        inquiry.check_arrival(now)
    except ValidationError as err:
        raise CliError(f"NewInquiry refused: {describe_validation_error(err)}", EXIT_USAGE) from None
    except InvalidOrder as err:
        raise CliError(f"NewInquiry refused: {err}", EXIT_USAGE) from None
    return inquiry


def cmd_ask(args: argparse.Namespace) -> int:
    """`hotline inquiry ask FILE`."""
    inquiry = parse_new_inquiry(read_json(args.file), now=datetime.now(UTC))

    async def main() -> int:
        hc = await HotlineClient.connect()
        about = f" · order {inquiry.order_no}" if inquiry.order_no else ""
        try:
            handle = await hc.client.start_workflow(
                DOUBTFUL_ORDER,
                inquiry.model_dump(mode="json"),
                id=inquiry.workflow_id,
                task_queue=hc.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                # an answered inquiry is not asked twice under its number; a failed start may be retried
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
                static_summary=f"doubtful order{about} · {inquiry.unit}",
            )
        except WorkflowAlreadyStartedError:
            desc = await hc.client.get_workflow_handle(inquiry.workflow_id).describe()
            state = "is already running" if desc.close_time is None else "was asked and answered already"
            raise CliError(
                f"inquiry {inquiry.inquiry_no} {state} (workflow {inquiry.workflow_id}); nothing changed"
            ) from None
        print(json.dumps({"inquiry_no": inquiry.inquiry_no, "workflow_id": inquiry.workflow_id,
                          "run_id": handle.result_run_id or ""}))  # fmt: skip
        return EXIT_OK

    return asyncio.run(main())


# -- answer / reassign -----------------------------------------------------------------------------


def build_action(name: InquiryAction, args: argparse.Namespace, payload: dict[str, Any]) -> Action:
    """The action's model from the arguments, or `CliError` (exit 2) naming the wrong argument."""
    default_role = Role.HANDLER if name is InquiryAction.ANSWER else Role.OPERATOR
    raw: dict[str, Any] = {
        "actor": {"org": args.as_org, "person": args.person, "role": args.role or default_role.value},
        **payload,
    }
    if args.request_id:
        raw["request_id"] = args.request_id
    try:
        return INQUIRY_ACTIONS[name].model_validate(raw)
    except ValidationError as err:
        raise CliError(f"hotline inquiry {name}: {flag_problems(err.errors(), _FLAG)}", EXIT_USAGE) from None


async def _closed_refusal(handle: WorkflowHandle[Any, Any], name: str) -> str | None:
    """The refusal of an action on a finished inquiry, or None when no such inquiry exists."""
    try:
        status = await handle.query(STATUS_QUERY, result_type=InquiryStatus)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    at = status.answered_at.astimezone(SHANGHAI).isoformat(timespec="minutes") if status.answered_at else "?"
    return f"{name} refused: the inquiry was answered by {status.unit} at {at}; nothing may change it"


def _cmd_action(
    name: InquiryAction, payload: Callable[[argparse.Namespace], dict[str, Any]]
) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        action = build_action(name, args, payload(args))
        body = action.model_dump(mode="json", exclude_none=True)

        async def main() -> int:
            hc = await HotlineClient.connect()
            handle = hc.client.get_workflow_handle(inquiry_workflow_id(args.inquiry_no))
            try:
                if args.signal:
                    await handle.signal(name, body)
                    print(f"{name} sent as a signal to inquiry {args.inquiry_no}")
                    return EXIT_OK
                status = await handle.execute_update(name, body, result_type=InquiryStatus)
            except WorkflowUpdateFailedError as err:
                refused = refusal(err)
                if refused is None:
                    raise
                raise refused from None
            except RPCError as err:
                if err.status != RPCStatusCode.NOT_FOUND:
                    raise
                closed = await _closed_refusal(handle, name)
                raise CliError(closed or _not_found(args.inquiry_no)) from None
            if args.json:
                print(status.model_dump_json(indent=2))
            else:
                print(f"{name}: done. Inquiry {status.inquiry_no} is {status.phase.value}; "
                      f"it waits for {status.waiting_for}.")  # fmt: skip
            return EXIT_OK

        return asyncio.run(main())

    return run


def _not_found(inquiry_no: str) -> str:
    return f"inquiry {inquiry_no} not found (no workflow {inquiry_workflow_id(inquiry_no)})"


# -- show ------------------------------------------------------------------------------------------


def _local(t: datetime) -> str:
    return t.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def render_status(s: InquiryStatus, *, out: Any = None) -> None:
    """A readable page of one inquiry: unit, deadline with its rule, answer, reassignments, timeline."""
    stream = out or sys.stdout
    about = f" on order {s.order_no}" if s.order_no else ""
    d = s.deadline
    if d.met_at is not None:
        state = "met late" if d.overdue_since or d.met_at > d.due else "met"
    else:
        state = "OVERDUE" if d.overdue_since else ("warned" if d.warned_at else "open")
    lines = [
        f"Inquiry {s.inquiry_no}{about}: asked {s.unit} at {_local(s.asked_at)} (rulebook {s.rulebook})",
        f"phase {s.phase.value}: waits for {s.waiting_for}",
        *([f"flags: {', '.join(s.flags)}"] if s.flags else []),
        f"{d.label}: due {_local(d.due)} ({state}) — {d.explanation}",
        f"question: {s.question}",
    ]
    if s.answer is not None and s.answered_at is not None:
        who = f" ({s.answered_by.org}/{s.answered_by.person})" if s.answered_by else ""
        lines.append(f"answer{who} at {_local(s.answered_at)}: {s.answer}")
    for r in s.reassignments:
        lines.append(f"reassigned {_local(r.at)} {r.from_unit} -> {r.to_unit} by {r.by.org}/{r.by.person}: {r.reason}")
    lines.append("timeline:")
    for e in s.timeline:
        who = f" {e.actor.org}/{e.actor.person}" if e.actor else ""
        lines.append(f"  {_local(e.at)} {e.kind}{who}: {e.detail}")
    if s.rejected_actions:
        lines.append(f"{len(s.rejected_actions)} rejected signal(s):")
        lines.extend(f"  {r.at.isoformat(timespec='minutes')} {r.action}: {r.reason}" for r in s.rejected_actions)
    print("\n".join(lines), file=stream)


def cmd_show(args: argparse.Namespace) -> int:
    """`hotline inquiry show`."""

    async def main() -> int:
        hc = await HotlineClient.connect()
        handle = hc.client.get_workflow_handle(inquiry_workflow_id(args.inquiry_no))
        try:
            status = await handle.query(STATUS_QUERY, result_type=InquiryStatus)
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise CliError(_not_found(args.inquiry_no)) from None
            raise
        if args.json:
            print(status.model_dump_json(indent=2))
        else:
            render_status(status)
        return EXIT_OK

    return asyncio.run(main())


# -- wiring ----------------------------------------------------------------------------------------


def _common(p: argparse.ArgumentParser, default_role: Role) -> None:
    p.add_argument("inquiry_no", help="the inquiry number")
    p.add_argument("--as", dest="as_org", required=True, type=org_arg, help="the org acting")
    p.add_argument("--person", required=True, help="name or staff id of the person acting")
    p.add_argument("--role", choices=[r.value for r in Role], help=f"the role (default: {default_role.value})")
    p.add_argument("--request-id", help="makes a repeated action take effect once")
    p.add_argument("--signal", action="store_true", help="send as a signal (fire-and-forget)")
    p.add_argument("--json", action="store_true", help="print the inquiry's status as JSON")


def configure(command: str, inquiry: argparse.ArgumentParser) -> None:
    """`hotline inquiry ask|answer|reassign|show`."""
    isub = inquiry.add_subparsers(dest="inquiry_command", required=True, metavar="ACTION")

    p = isub.add_parser("ask", help="start one doubtful order from a NewInquiry JSON file (- for stdin)")
    p.add_argument("file", help="path of the JSON file, or - for standard input")
    p.set_defaults(func=cmd_ask)

    p = isub.add_parser(InquiryAction.ANSWER, help="the asked unit's answer; goes to the city hotline")
    _common(p, Role.HANDLER)
    p.add_argument("--answer", required=True, help="the professional answer")
    p.set_defaults(func=_cmd_action(InquiryAction.ANSWER, lambda a: {"answer": a.answer}))

    p = isub.add_parser(InquiryAction.REASSIGN, help="the platform asks another unit; the reply deadline stays")
    _common(p, Role.OPERATOR)
    p.add_argument("--unit", required=True, type=org_arg, help="the unit now asked")
    p.add_argument("--reason", required=True, help="why")
    p.set_defaults(func=_cmd_action(InquiryAction.REASSIGN, lambda a: {"unit": a.unit, "reason": a.reason}))

    p = isub.add_parser("show", help="a readable page of one inquiry (--json for the raw status)")
    p.add_argument("inquiry_no")
    p.add_argument("--json", action="store_true", help="the raw `status` query answer")
    p.set_defaults(func=cmd_show)
