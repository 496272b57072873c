"""`DoubtfulOrder`: the city hotline asks a unit for a professional answer (Article 7.3).

The rules live in `domain.inquiry.Inquiry`; the Temporal wiring (an Update and a Signal per action,
the timer loop, the record activity, search attributes and details) is the shared
`workflows.shell.ActionWorkflow`. What is the doubtful order's own is here: binding the rulebook and
the calendar at start, what it records, and what the Web UI shows. The workflow completes once the
answer is written.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeKey

with workflow.unsafe.imports_passed_through():
    from activities.inquiries import InquiryActivities
    from activities.orders import OrderActivities
    from domain.calendar import SHANGHAI, BusinessCalendar
    from domain.contract import DOUBTFUL_ORDER
    from domain.inquiry import INQUIRY_ACTIONS, Inquiry, InquirySnapshot, InquiryStatus, NewInquiry
    from domain.records import InquiryRecord, MachineRecord, OrderRules, OrderRulesRequest
    from domain.rulebook import rulebook_for
    from workflows import search_attributes as sa
    from workflows.shell import ACTIVITY_TIMEOUT, RETRY, ActionWorkflow, now

#: Inquiries started with this marker bind the rulebook in force from PostgreSQL; older ones keep
#: the shipped version they started with.
RULES_FROM_DB_PATCH = "inquiry-rules-from-db"


def _calendar_years(asked_at: datetime) -> list[int]:
    """The years whose calendar the reply window may need: the year asked and the next."""
    y = asked_at.astimezone(SHANGHAI).year
    return [y, y + 1]


@workflow.defn(name=DOUBTFUL_ORDER)
class DoubtfulOrder(ActionWorkflow[Inquiry]):
    """One doubtful order, from the question to the written answer."""

    input_model = NewInquiry
    actions = INQUIRY_ACTIONS
    snapshot_model = InquirySnapshot
    noun = "inquiry"

    @workflow.run
    async def run(self, raw: Any) -> InquiryStatus:
        """Bind the rulebook and calendar, then follow actions and timers until the answer is written."""
        status: InquiryStatus = await self._run_machine()
        return status

    async def _start(self, new: NewInquiry) -> Inquiry:
        years = _calendar_years(new.asked_at)
        if workflow.patched(RULES_FROM_DB_PATCH):
            # the rulebook in force when asked, from the database (an imported successor counts)
            rules: OrderRules = await workflow.execute_activity_method(
                OrderActivities.load_order_rules,
                OrderRulesRequest(at=new.asked_at, years=years),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=RETRY,
                summary="bind the rulebook and load the business calendar",
            )
            return Inquiry(new, rules.rulebook, BusinessCalendar.shared(rules.years), now())
        # started before rulebooks were data: the shipped version
        return Inquiry(new, rulebook_for(new.asked_at), await self._load_calendar(years), now())

    async def _resume(self, snapshot: InquirySnapshot) -> Inquiry:
        return Inquiry.restore(snapshot, await self._load_calendar(_calendar_years(snapshot.new.asked_at)))

    def _preliminary_status(self, new: NewInquiry) -> InquiryStatus:
        return Inquiry.preliminary_status(new, rulebook_for(new.asked_at))

    def _record(self, inquiry: Inquiry, base: dict[str, Any]) -> tuple[Callable[..., Any], MachineRecord, str]:
        record = InquiryRecord(**base, inquiry=inquiry.new, status=inquiry.projection())
        return InquiryActivities.record_inquiry, record, f"record revision {base['revision']}"

    def _search_attributes(self, inquiry: Inquiry) -> list[tuple[str, SearchAttributeKey[Any], Any]]:
        """The contract's attributes with the inquiry's meaning.

        `OrderPhase` is `awaiting_answer|answered`, `OrderUnits` the unit asked, `OrderFlags`
        `reply_late`, `CompletionDue` the reply deadline: `WorkflowType = 'DoubtfulOrder' AND
        OrderFlags = 'reply_late'` finds every late inquiry.
        """
        return [
            ("phase", sa.ORDER_PHASE, inquiry.phase.value),
            ("units", sa.ORDER_UNITS, [inquiry.unit]),
            ("flags", sa.ORDER_FLAGS, list(inquiry.flags)),
            ("due", sa.COMPLETION_DUE, inquiry.deadline.due),
        ]

    def _details_text(self, inquiry: Inquiry) -> str:
        n = inquiry.new
        about = f" · order {n.order_no}" if n.order_no else ""
        lines = [
            f"**doubtful order{about} · {inquiry.unit}**",
            "",
            f"Phase `{inquiry.phase.value}`: waits for {inquiry.waiting_for()}.",
        ]
        if inquiry.flags:
            lines.append(f"Flags: {', '.join(inquiry.flags)}.")
        d = inquiry.deadline
        if d.met_at is None:
            state = "OVERDUE" if d.overdue_since else ("warned" if d.warned_at else "open")
            lines.append(f"- {d.label}: due {d.due.isoformat(timespec='minutes')} ({state}) — {d.explanation}")
        return "\n".join(lines)
