"""`WorkOrder`: one hotline order as a durable workflow (contract: ``../shared/contract.md``).

Handlers take plain JSON objects (``dict``) rather than models on purpose: any Temporal client can
send anything, and a payload that does not fit must become a precise refusal (an update error, or a
`rejected_actions` entry for a signal), never a workflow task that fails to decode and stalls.
Each payload is validated into its `domain` model first thing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from domain import lifecycle
    from domain.calendar import SHANGHAI
    from domain.errors import INVALID_ORDER, REJECTED, InvalidOrder, Rejected
    from domain.models import (
        Actor,
        NewOrder,
        OrderStatus,
        Phase,
        Receive,
        RejectedAction,
        TimelineEntry,
        describe_validation_error,
    )
    from domain.records import NumberedEntry, OrderRecord
    from domain.rulebook import rulebook_for
    from workflows import search_attributes as sa

RECORD_TIMEOUT = timedelta(seconds=30)
# Transient faults (the database restarting) are retried until they pass: nothing is lost.
RECORD_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))


def _now() -> datetime:
    """The workflow's clock in Asia/Shanghai: every instant the contract shows is +08:00."""
    return workflow.now().astimezone(SHANGHAI)


@workflow.defn(name="WorkOrder")
class WorkOrder:
    """One order from transfer to archive."""

    @workflow.init
    def __init__(self, raw: dict[str, Any]) -> None:
        """Validate the `NewOrder` before any handler can run."""
        self._order: NewOrder | None = None
        self._invalid: str | None = None
        try:
            self._order = NewOrder.model_validate(raw)
        except ValidationError as err:
            self._invalid = f"NewOrder refused: {describe_validation_error(err)}"
        self._phase = Phase.AWAITING_RECEIPT
        self._rulebook = ""
        self._timeline: list[TimelineEntry] = []
        self._rejected: list[RejectedAction] = []
        self._request_ids: set[str] = set()
        self._revision = 0
        self._written_revision = -1
        self._written_entries = 0

    # -- run ------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, raw: dict[str, Any]) -> OrderStatus:
        """Bind the rulebook, record the order, then follow its actions."""
        order = self._accept_or_fail()
        self._rulebook = rulebook_for(order.dispatched_at).id
        self._note(
            "transferred",
            None,
            f"dispatched by the city hotline at {order.dispatched_at.isoformat()}",
        )
        workflow.upsert_search_attributes(
            [
                sa.ORDER_TIER.value_set(order.tier.value),
                sa.ORDER_CATEGORY.value_set(order.category.value),
                sa.ORDER_PLATFORM.value_set(order.platform.value),
                sa.ORDER_DISTRICT.value_set(order.location.district),
                sa.ORDER_PHASE.value_set(self._phase.value),
            ]
        )
        self._show_details()
        while self._phase is not Phase.CLOSED:
            await workflow.wait_condition(lambda: self._revision > self._written_revision)
            await self._write()
        await self._write()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._status()

    def _accept_or_fail(self) -> NewOrder:
        if self._order is None:
            raise ApplicationError(
                self._invalid or "NewOrder refused", type=INVALID_ORDER, non_retryable=True
            )
        try:
            self._order.check_arrival(_now())
        except InvalidOrder as err:
            raise ApplicationError(
                f"NewOrder refused: {err}", type=INVALID_ORDER, non_retryable=True
            ) from None
        return self._order

    # -- actions --------------------------------------------------------------------------------

    @workflow.update(name="receive")
    def receive_update(self, raw: dict[str, Any]) -> OrderStatus:
        """The platform checks the order in."""
        self._apply_receive(self._parse_receive(raw))
        return self._status()

    @receive_update.validator
    def _validate_receive(self, raw: dict[str, Any]) -> None:
        try:
            self._parse_receive(raw)
        except Rejected as err:
            raise ApplicationError(str(err), type=REJECTED, non_retryable=True) from None

    @workflow.signal(name="receive")
    def receive_signal(self, raw: dict[str, Any]) -> None:
        """`receive`, fire-and-forget: a refusal is kept in `rejected_actions`."""
        try:
            action = self._parse_receive(raw)
        except Rejected as err:
            self._reject("receive", raw, str(err))
            return
        self._apply_receive(action)

    def _parse_receive(self, raw: Any) -> Receive | None:
        """The action, or None when its `request_id` was already applied (takes effect once)."""
        order = self._require_order("receive")
        action = lifecycle.parse_action("receive", Receive, raw)
        if action.request_id is not None and action.request_id in self._request_ids:
            return None
        lifecycle.check_receive(self._phase, action.actor, order.platform)
        return action

    def _apply_receive(self, action: Receive | None) -> None:
        if action is None:
            return
        self._remember(action.request_id)
        self._set_phase(Phase.RECEIVED)
        self._note("received", action.actor, "the platform checked the order in")

    # -- queries --------------------------------------------------------------------------------

    @workflow.query(name="status")
    def status(self) -> OrderStatus:
        """The order as it stands."""
        if self._order is None:
            raise ApplicationError(self._invalid or "NewOrder refused", type=INVALID_ORDER)
        return self._status()

    # -- state helpers --------------------------------------------------------------------------

    def _require_order(self, name: str) -> NewOrder:
        if self._order is None:
            raise Rejected(f"{name} refused: the order itself was refused at start ({self._invalid})")
        return self._order

    def _remember(self, request_id: str | None) -> None:
        if request_id is not None:
            self._request_ids.add(request_id)

    def _reject(self, name: str, raw: Any, reason: str) -> None:
        actor = raw.get("actor") if isinstance(raw, dict) else None
        request_id = raw.get("request_id") if isinstance(raw, dict) else None
        self._rejected.append(
            RejectedAction(
                at=_now(),
                action=name,
                actor=actor if isinstance(actor, dict) else None,
                request_id=request_id if isinstance(request_id, str) else None,
                reason=reason,
            )
        )
        self._revision += 1
        workflow.logger.info("action.rejected", extra={"action": name})

    def _note(self, kind: str, actor: Actor | None, detail: str) -> None:
        self._timeline.append(TimelineEntry(at=_now(), kind=kind, actor=actor, detail=detail))
        self._revision += 1

    def _set_phase(self, phase: Phase) -> None:
        self._phase = phase
        workflow.upsert_search_attributes([sa.ORDER_PHASE.value_set(phase.value)])
        self._show_details()

    def _show_details(self) -> None:
        order = self._order
        assert order is not None
        waiting = {
            Phase.AWAITING_RECEIPT: f"waits for the {order.platform.value} platform to receive it",
            Phase.RECEIVED: f"received; waits for the {order.platform.value} platform's proposal",
        }.get(self._phase, self._phase.value)
        workflow.set_current_details(
            f"**{order.tier.value} · {order.category.value} · {order.location.district} · "
            f"{order.subject}**\n\nPhase `{self._phase.value}`: {waiting}."
        )

    def _status(self) -> OrderStatus:
        order = self._order
        assert order is not None
        return OrderStatus(
            order_no=order.order_no,
            tier=order.tier,
            category=order.category,
            platform=order.platform,
            district=order.location.district,
            subject=order.subject,
            dispatched_at=order.dispatched_at,
            rulebook=self._rulebook,
            phase=self._phase,
            rejected_actions=list(self._rejected),
            timeline=list(self._timeline),
        )

    async def _write(self) -> None:
        """Write the projection and the new timeline entries (one activity, idempotent)."""
        order = self._order
        assert order is not None
        while self._written_revision < self._revision:
            revision, start = self._revision, self._written_entries
            entries = [
                NumberedEntry(seq=i, entry=e) for i, e in enumerate(self._timeline[start:], start=start)
            ]
            info = workflow.info()
            await workflow.execute_activity(
                "record_order",
                OrderRecord(
                    run_id=info.run_id,
                    workflow_id=info.workflow_id,
                    revision=revision,
                    order=order,
                    status=self._status(),
                    entries=entries,
                ),
                start_to_close_timeout=RECORD_TIMEOUT,
                retry_policy=RECORD_RETRY,
                summary=f"record revision {revision}",
            )
            self._written_revision = revision
            self._written_entries = start + len(entries)
