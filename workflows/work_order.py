"""`WorkOrder`: one hotline order as a durable workflow (contract: ``../shared/contract.md``).

The rules live in `domain.order.Order`; this class wires them to Temporal: one Update (with a
validator) and one Signal per contract action, sharing one implementation; the `status` and
`handling_order` queries; named timers for every deadline's warning and end; search attributes,
summary and details for the Web UI; and the activities that write the projection, timeline and
outboxes, and the archive at close.

Handlers take plain JSON objects (``dict``) rather than models on purpose: any Temporal client can
send anything, and a payload that does not fit must become a precise refusal (an update error, or a
`rejected_actions` entry for a signal), never a workflow task that fails to decode and stalls.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from domain.calendar import SHANGHAI, BusinessCalendar
    from domain.errors import INVALID_ORDER, REJECTED, InvalidOrder, Rejected
    from domain.lifecycle import parse_action
    from domain.models import (
        ACTIONS,
        HandlingOrder,
        NewOrder,
        OrderStatus,
        Phase,
        describe_validation_error,
    )
    from domain.order import Order
    from domain.records import CalendarRequest, CalendarYears, NumberedEntry, OrderRecord
    from domain.rulebook import rulebook_for
    from workflows import search_attributes as sa

ACTIVITY_TIMEOUT = timedelta(seconds=30)
# Transient faults (the database restarting) are retried until they pass: nothing is lost.
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))

#: Signal (not part of the contract's actions) telling a running order the calendar changed.
CALENDAR_CHANGED = "calendar_changed"


def _now() -> datetime:
    """The workflow's clock in Asia/Shanghai: every instant the contract shows is +08:00."""
    return workflow.now().astimezone(SHANGHAI)


def _calendar_years(dispatched_at: datetime) -> list[int]:
    """The years whose calendar an order may need: from the year before to two years after."""
    y = dispatched_at.astimezone(SHANGHAI).year
    return [y - 1, y, y + 1, y + 2]


@workflow.defn(name="WorkOrder")
class WorkOrder:
    """One order from transfer to archive."""

    @workflow.init
    def __init__(self, raw: dict[str, Any]) -> None:
        """Validate the `NewOrder` and register a handler per action before any message arrives."""
        self._new: NewOrder | None = None
        self._invalid: str | None = None
        try:
            self._new = NewOrder.model_validate(raw)
        except ValidationError as err:
            self._invalid = f"NewOrder refused: {describe_validation_error(err)}"
        self._order: Order | None = None
        self._written_revision = -1
        self._written_entries = 0
        self._written_outbox = 0
        self._calendar_changed = False
        self._search: dict[str, Any] = {}
        self._details = ""
        for name in ACTIONS:
            workflow.set_update_handler(name, self._update_handler(name), validator=self._validator(name))
            workflow.set_signal_handler(name, self._signal_handler(name))

    # -- run ------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, raw: dict[str, Any]) -> OrderStatus:
        """Bind the rulebook and calendar, then follow actions and timers until the order closes."""
        new = self._accept_or_fail()
        rulebook = rulebook_for(new.dispatched_at)
        calendar = await self._load_calendar(new.dispatched_at)
        self._order = order = Order(new, rulebook, calendar, _now())
        workflow.upsert_search_attributes(
            [
                sa.ORDER_TIER.value_set(new.tier.value),
                sa.ORDER_CATEGORY.value_set(new.category.value),
                sa.ORDER_PLATFORM.value_set(new.platform.value),
                sa.ORDER_DISTRICT.value_set(new.location.district),
            ]
        )
        while True:
            await self._write()
            if order.phase is Phase.CLOSED:
                break
            await self._wait(order)
            if self._calendar_changed:
                self._calendar_changed = False
                order.recalendar(await self._load_calendar(new.dispatched_at), _now())
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._write()
        return order.status()

    async def _wait(self, order: Order) -> None:
        """Sleep until the next deadline event, waking early for any change."""
        revision = order.revision
        nxt = order.next_timer()

        def changed() -> bool:
            return order.revision != revision or self._calendar_changed

        if nxt is None:
            await workflow.wait_condition(changed)
            return
        at, label = nxt
        seconds = (at - workflow.now()).total_seconds()
        if seconds > 0:
            try:
                await workflow.wait_condition(changed, timeout=seconds, timeout_summary=label)
                return
            except TimeoutError:
                pass
        order.fire_due(_now())

    def _accept_or_fail(self) -> NewOrder:
        if self._new is None:
            raise ApplicationError(self._invalid or "NewOrder refused", type=INVALID_ORDER, non_retryable=True)
        try:
            self._new.check_arrival(_now())
        except InvalidOrder as err:
            raise ApplicationError(f"NewOrder refused: {err}", type=INVALID_ORDER, non_retryable=True) from None
        return self._new

    async def _load_calendar(self, dispatched_at: datetime) -> BusinessCalendar:
        years: CalendarYears = await workflow.execute_activity(
            "load_calendar_years",
            CalendarRequest(years=_calendar_years(dispatched_at)),
            result_type=CalendarYears,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
            summary="load the business calendar",
        )
        return BusinessCalendar(years.years)

    # -- actions --------------------------------------------------------------------------------

    def _validator(self, name: str) -> Callable[[dict[str, Any]], None]:
        def validate(raw: dict[str, Any]) -> None:
            try:
                if self._order is None:
                    # the order is being set up (its calendar loads); check what can be checked
                    self._require_valid_start(name)
                    parse_action(name, ACTIONS[name], raw)
                    return
                self._order.check(name, raw, _now())
            except Rejected as err:
                raise ApplicationError(str(err), type=REJECTED, non_retryable=True) from None

        return validate

    def _update_handler(self, name: str) -> Callable[[dict[str, Any]], Any]:
        async def handle(raw: dict[str, Any]) -> OrderStatus:
            order = await self._ready()
            try:
                order.act(name, raw, _now())
            except Rejected as err:  # only when it arrived while the order was being set up
                raise ApplicationError(str(err), type=REJECTED, non_retryable=True) from None
            return order.status()

        return handle

    def _signal_handler(self, name: str) -> Callable[[dict[str, Any]], Any]:
        async def handle(raw: dict[str, Any]) -> None:
            if self._new is None:
                return  # the workflow fails at start; nothing to record on
            order = await self._ready()
            try:
                order.act(name, raw, _now())
            except Rejected as err:
                order.reject(name, raw, str(err), _now())
                workflow.logger.info("action.rejected", extra={"action": name})

        return handle

    async def _ready(self) -> Order:
        self._require_valid_start("action")
        await workflow.wait_condition(lambda: self._order is not None)
        assert self._order is not None
        return self._order

    def _require_valid_start(self, name: str) -> None:
        if self._new is None:
            raise Rejected(f"{name} refused: the order itself was refused at start ({self._invalid})")

    @workflow.signal(name=CALENDAR_CHANGED)
    def calendar_changed(self, raw: dict[str, Any] | None = None) -> None:
        """The business calendar changed: recompute unconfirmed deadlines that have not passed."""
        self._calendar_changed = True

    # -- queries --------------------------------------------------------------------------------

    @workflow.query(name="status")
    def status(self) -> OrderStatus:
        """The order as it stands."""
        if self._order is not None:
            return self._order.status()
        if self._new is None:
            raise ApplicationError(self._invalid or "NewOrder refused", type=INVALID_ORDER)
        n = self._new  # its calendar is still loading: what is known already
        return OrderStatus(
            order_no=n.order_no,
            tier=n.tier,
            category=n.category,
            platform=n.platform,
            district=n.location.district,
            subject=n.subject,
            dispatched_at=n.dispatched_at,
            rulebook=rulebook_for(n.dispatched_at).id,
            phase=Phase.AWAITING_RECEIPT,
            waiting_for="its deadlines: the order is being set up (loading the business calendar)",
        )

    @workflow.query(name="handling_order")
    def handling_order(self, unit: Any) -> HandlingOrder:
        """What ``unit`` sees: no reporter name or phone when the reporter asked for confidentiality."""
        if self._order is None:
            raise ApplicationError(self._invalid or "the order is being set up; ask again", type=INVALID_ORDER)
        try:
            return self._order.handling_order(unit)
        except Rejected as err:
            raise ApplicationError(str(err), type=REJECTED) from None

    # -- writing --------------------------------------------------------------------------------

    async def _write(self) -> None:
        """Write projection, timeline and outbox (idempotent activity); refresh what the UI shows."""
        order = self._order
        assert order is not None
        self._show(order)
        while self._written_revision < order.revision:
            revision = order.revision
            start, ostart = self._written_entries, self._written_outbox
            entries = [NumberedEntry(seq=i, entry=e) for i, e in enumerate(order.timeline[start:], start=start)]
            outbox = order.outbox[ostart:]
            info = workflow.info()
            closed = order.phase is Phase.CLOSED
            await workflow.execute_activity(
                "record_order",
                OrderRecord(
                    run_id=info.run_id,
                    workflow_id=info.workflow_id,
                    revision=revision,
                    order=order.new,
                    status=order.status(),
                    units=order.units(),
                    entries=entries,
                    outbox=outbox,
                    archive=closed,
                ),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=RETRY,
                summary=("archive" if closed else f"record revision {revision}"),
            )
            self._written_revision = revision
            self._written_entries = start + len(entries)
            self._written_outbox = ostart + len(outbox)
            self._show(order)

    def _show(self, order: Order) -> None:
        """Search attributes and current details, upserted only when they changed."""
        receipt = order.deadlines.get("receipt")
        key = f"rehandling_{order.rehandling_round}" if order.rehandling_round else "completion"
        completion = order.deadlines.get(key)
        wanted: dict[str, Any] = {
            "phase": order.phase.value,
            "units": order.units(),
            "flags": list(order.flags),
            "receipt": receipt.due if receipt else None,
            "completion": completion.due if completion else None,
        }
        updates: list[SearchAttributeUpdate[Any]] = []
        for name, value in wanted.items():
            if self._search.get(name, object()) == value:
                continue
            self._search[name] = value
            match name:
                case "phase":
                    updates.append(sa.ORDER_PHASE.value_set(value))
                case "units":
                    updates.append(sa.ORDER_UNITS.value_set(value) if value else sa.ORDER_UNITS.value_unset())
                case "flags":
                    updates.append(sa.ORDER_FLAGS.value_set(value) if value else sa.ORDER_FLAGS.value_unset())
                case "receipt" if value is not None:
                    updates.append(sa.RECEIPT_DUE.value_set(value))
                case "completion" if value is not None:
                    updates.append(sa.COMPLETION_DUE.value_set(value))
        if updates:
            workflow.upsert_search_attributes(updates)
        details = self._details_text(order)
        if details != self._details:
            self._details = details
            workflow.set_current_details(details)

    @staticmethod
    def _details_text(order: Order) -> str:
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
