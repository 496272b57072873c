"""`WorkOrder`: one hotline order as a durable workflow (contract: ``docs/contract.md``).

The rules live in `domain.order.Order`; the Temporal wiring every action-driven workflow shares
(an Update and a Signal per action, the timer loop, the record activity, search attributes and
details) lives in `workflows.shell.ActionWorkflow`. What is the order's own is here: binding the
rulebook and the calendar at start, the `handling_order` query, the calendar-changed signal, the
order's search attributes and details, and the archive at close.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeKey
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.orders import OrderActivities
    from domain.calendar import SHANGHAI, BusinessCalendar
    from domain.contract import CALENDAR_CHANGED_SIGNAL, HANDLING_ORDER_QUERY, WORK_ORDER
    from domain.errors import RefusalKind, Rejected
    from domain.models import ACTIONS, HandlingOrder, NewOrder, OrderStatus, Phase
    from domain.order import LIFECYCLE, LIFECYCLE_LEGACY, Order, OrderSnapshot
    from domain.records import MachineRecord, OrderRecord, OrderRules, OrderRulesRequest
    from domain.rulebook import LEGACY_TIANJIN_2021, rulebook_for
    from workflows import search_attributes as sa
    from workflows.shell import ACTIVITY_TIMEOUT, RETRY, ActionWorkflow, now, refusal

#: Orders started with this marker in their history follow lifecycle 2 (``docs/rules.md``): the units'
#: clock from the dispatch, result review and extension forwarding by the platform, re-handling then
#: appeal, reminders; the rulebook comes from the database. Orders without it keep lifecycle 1.
LIFECYCLE_2_PATCH = "lifecycle-2"


def _calendar_years(dispatched_at: datetime) -> list[int]:
    """The years whose calendar an order may need: from the year before to two years after."""
    y = dispatched_at.astimezone(SHANGHAI).year
    return [y - 1, y, y + 1, y + 2]


@workflow.defn(name=WORK_ORDER)
class WorkOrder(ActionWorkflow[Order]):
    """One order from transfer to archive."""

    input_model = NewOrder
    actions = ACTIONS
    snapshot_model = OrderSnapshot
    noun = "order"
    #: Set by the calendar-changed signal (which may arrive before the order is set up).
    _calendar_changed = False

    @workflow.run
    async def run(self, raw: Any) -> OrderStatus:
        """Bind the rulebook and calendar, then follow actions and timers until the order closes."""
        status: OrderStatus = await self._run_machine()
        return status

    async def _start(self, new: NewOrder) -> Order:
        years = _calendar_years(new.dispatched_at)
        if workflow.patched(LIFECYCLE_2_PATCH):
            # the rulebook in force at the transfer, from the database: bound for life (in history)
            rules: OrderRules = await workflow.execute_activity_method(
                OrderActivities.load_order_rules,
                OrderRulesRequest(at=new.dispatched_at, years=years),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=RETRY,
                summary="bind the rulebook and load the business calendar",
            )
            order = Order(new, rules.rulebook, BusinessCalendar.shared(rules.years), now(), lifecycle=LIFECYCLE)
        else:  # started before lifecycle 2: the behaviour and rulebook it started with
            calendar = await self._load_calendar(years)
            order = Order(new, LEGACY_TIANJIN_2021, calendar, now(), lifecycle=LIFECYCLE_LEGACY)
        workflow.upsert_search_attributes(
            [
                sa.ORDER_TIER.value_set(new.tier.value),
                sa.ORDER_CATEGORY.value_set(new.category.value),
                sa.ORDER_PLATFORM.value_set(new.platform.value),
                sa.ORDER_DISTRICT.value_set(new.location.district),
            ]
        )
        return order

    async def _resume(self, snapshot: OrderSnapshot) -> Order:
        calendar = await self._load_calendar(_calendar_years(snapshot.new.dispatched_at))
        return Order.restore(snapshot, calendar)

    def _woken(self) -> bool:
        return self._calendar_changed

    async def _after_wake(self, order: Order) -> None:
        if self._calendar_changed:
            self._calendar_changed = False
            order.recalendar(await self._load_calendar(_calendar_years(order.new.dispatched_at)), now())

    @workflow.signal(name=CALENDAR_CHANGED_SIGNAL)
    def calendar_changed(self, raw: Any = None) -> None:
        """The business calendar changed: recompute unconfirmed deadlines that have not passed."""
        self._calendar_changed = True

    # -- queries --------------------------------------------------------------------------------

    @workflow.query(name=HANDLING_ORDER_QUERY)
    def handling_order(self, unit: Any) -> HandlingOrder:
        """What ``unit`` sees of the order (Article 8.2)."""
        if self._machine is None:
            raise ApplicationError(
                self._invalid or "the order is being set up; ask again", type=RefusalKind.PRECONDITION.value
            )
        try:
            return self._machine.handling_order(unit)
        except Rejected as err:
            raise refusal(err) from None

    def _preliminary_status(self, new: NewOrder) -> OrderStatus:
        return Order.preliminary_status(new, rulebook_for(new.dispatched_at))

    # -- writing --------------------------------------------------------------------------------

    def _record(self, order: Order, base: dict[str, Any]) -> tuple[Callable[..., Any], MachineRecord, str]:
        closed = order.phase is Phase.CLOSED
        record = OrderRecord(**base, order=order.new, status=order.projection(), units=order.units(), archive=closed)
        return OrderActivities.record_order, record, ("archive" if closed else f"record revision {base['revision']}")

    def _search_attributes(self, order: Order) -> list[tuple[str, SearchAttributeKey[Any], Any]]:
        receipt = order.deadlines.get("receipt")
        key = f"rehandling_{order.rehandling_round}" if order.rehandling_round else "completion"
        completion = order.deadlines.get(key)
        return [
            ("phase", sa.ORDER_PHASE, order.phase.value),
            ("units", sa.ORDER_UNITS, order.units()),
            ("flags", sa.ORDER_FLAGS, list(order.flags)),
            ("receipt", sa.RECEIPT_DUE, receipt.due if receipt else None),
            ("completion", sa.COMPLETION_DUE, completion.due if completion else None),
        ]

    def _details_text(self, order: Order) -> str:
        n = order.new
        lines = [
            f"**{n.tier.value} · {n.category.value} · {n.location.district} · {n.subject}**",
            "",
            f"Phase `{order.phase.value}`"
            + (f", outcome `{order.outcome.value}`" if order.outcome else "")
            + f": waits for {order.waiting_for()}.",
        ]
        if order.flags:
            lines.append(f"Flags: {', '.join(order.flags)}.")
        for d in order.deadlines.values():
            if d.met_at is None and d.closed_at is None:
                state = "OVERDUE" if d.overdue_since else ("warned" if d.warned_at else "open")
                lines.append(f"- {d.label}: due {d.due.isoformat(timespec='minutes')} ({state}) — {d.explanation}")
        return "\n".join(lines)
