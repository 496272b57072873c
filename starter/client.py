"""A typed Python client for handler apps and the `hotline` command: the contract, in models.

    client = await HotlineClient.connect()
    await client.start_order(NewOrder(...))
    status = await client.receive("TJ1", Receive(actor=Actor(org="center", person="王工", role="operator")))

Every action is sent as an Update (its refusal raises `ActionRefused` with the workflow's words);
`signal(...)` sends the same payload fire-and-forget.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain.models import (
    Action,
    AppealDecision,
    Callback,
    ContactReporter,
    Contribute,
    ExtensionDecision,
    FileAppeal,
    HandlingOrder,
    NewOrder,
    OrderStatus,
    Propose,
    Receive,
    ReleaseAssistingUnit,
    RequestExtension,
    ReturnOrder,
    ReturnToHotline,
    Review,
    SubmitResult,
    Withdraw,
    workflow_id_for,
)
from starter.errors import ActionRefused, OrderAlreadyRunning, OrderNotFound, TemporalUnreachable
from workers import temporal
from workers.codec import KeyRing, KeyRingError, load_keyring
from workers.settings import Settings

__all__ = [
    "ActionRefused",
    "CodecKeysUnavailable",
    "HotlineClient",
    "OrderAlreadyRunning",
    "OrderNotFound",
    "OrderSummary",
    "TemporalUnreachable",
]

WORKFLOW_TYPE = "WorkOrder"


class CodecKeysUnavailable(TemporalUnreachable):
    """No usable payload encryption keys: Temporal cannot be used (the message names the fault).

    A kind of `TemporalUnreachable`, so every command that reports an unreachable Temporal in one
    line reports this the same way.
    """


@dataclass(frozen=True)
class OrderSummary:
    """One order as Temporal's visibility lists it (search attributes only: no personal data)."""

    order_no: str
    run_id: str
    status: str
    phase: str
    tier: str
    category: str
    platform: str
    district: str
    units: list[str]
    flags: list[str]
    receipt_due: datetime | None
    completion_due: datetime | None
    started: datetime | None


class HotlineClient:
    """Start orders, send actions, read state: one method per contract item."""

    def __init__(self, client: Client, *, task_queue: str) -> None:
        """Wrap a connected client (it must use the pydantic data converter)."""
        self.client = client
        self.task_queue = task_queue

    @classmethod
    async def connect(cls, settings: Settings | None = None, *, keyring: KeyRing | None = None) -> HotlineClient:
        """Connect with the `HOTLINE_*` settings and the project's data converter.

        Payloads are encrypted with ``keyring`` (default: `workers.codec.load_keyring(settings)`).

        Raises:
            CodecKeysUnavailable: no usable encryption keys; nothing was sent.
            TemporalUnreachable: Temporal does not answer.
        """
        s = settings or Settings.from_env()
        try:
            ring = keyring if keyring is not None else load_keyring(s)
        except KeyRingError as err:
            raise CodecKeysUnavailable(str(err)) from None
        try:
            client = await temporal.connect(s, keyring=ring)
        except RuntimeError as err:
            raise TemporalUnreachable(
                f"cannot reach Temporal at {s.temporal_address} (HOTLINE_TEMPORAL_ADDRESS); "
                "is the stack up (`make run`)?"
            ) from err
        return cls(client, task_queue=s.task_queue)

    def handle(self, order_no: str) -> WorkflowHandle[Any, Any]:
        """The handle of the order's current run."""
        return self.client.get_workflow_handle(workflow_id_for(order_no))

    # -- start --------------------------------------------------------------------------------

    async def start_order(self, order: NewOrder) -> str:
        """Start `WorkOrder` for ``order``; returns the run id.

        Raises:
            OrderAlreadyRunning: the order is running; nothing changed.
        """
        try:
            handle = await self.client.start_workflow(
                WORKFLOW_TYPE,
                order.model_dump(mode="json"),
                id=order.workflow_id,
                task_queue=self.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                # returned or withdrawn orders may be transferred again and run anew
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                static_summary=(
                    f"{order.tier.value} · {order.category.value} · {order.location.district} · {order.subject}"
                ),
            )
        except WorkflowAlreadyStartedError:
            raise OrderAlreadyRunning(order.order_no) from None
        return handle.result_run_id or ""

    # -- queries ------------------------------------------------------------------------------

    async def status(self, order_no: str) -> OrderStatus:
        """The `status` query."""
        result: OrderStatus = await self._query(order_no, "status", None, OrderStatus)
        return result

    async def handling_order(self, order_no: str, unit: str) -> HandlingOrder:
        """The `handling_order` query: what ``unit`` sees."""
        result: HandlingOrder = await self._query(order_no, "handling_order", unit, HandlingOrder)
        return result

    async def _query(self, order_no: str, name: str, arg: Any, result_type: type) -> Any:
        handle = self.handle(order_no)
        try:
            if arg is None:
                return await handle.query(name, result_type=result_type)
            return await handle.query(name, arg, result_type=result_type)
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise OrderNotFound(order_no) from None
            raise
        except Exception as err:  # WorkflowQueryFailedError: the workflow refused to answer
            if type(err).__name__ == "WorkflowQueryFailedError":
                raise ActionRefused(str(err)) from None
            raise

    async def list_orders(self, query: str = "", *, limit: int | None = None) -> AsyncIterator[OrderSummary]:
        """Orders matching a visibility ``query`` (the contract's search attributes), newest first."""
        full = "WorkflowType = 'WorkOrder'" + (f" AND ({query})" if query else "")
        count = 0
        async for wf in self.client.list_workflows(full):
            attrs = {k.name: v for k, v in ((p.key, p.value) for p in wf.typed_search_attributes)}
            yield OrderSummary(
                order_no=wf.id.removeprefix("order-"),
                run_id=wf.run_id,
                status=wf.status.name.lower() if wf.status else "",
                phase=str(attrs.get("OrderPhase", "")),
                tier=str(attrs.get("OrderTier", "")),
                category=str(attrs.get("OrderCategory", "")),
                platform=str(attrs.get("OrderPlatform", "")),
                district=str(attrs.get("OrderDistrict", "")),
                units=list(attrs.get("OrderUnits") or []),
                flags=list(attrs.get("OrderFlags") or []),
                receipt_due=attrs.get("ReceiptDue"),
                completion_due=attrs.get("CompletionDue"),
                started=wf.start_time,
            )
            count += 1
            if limit is not None and count >= limit:
                return

    # -- actions ------------------------------------------------------------------------------

    async def receive(self, order_no: str, action: Receive) -> OrderStatus:
        """`receive`: the platform checks the order in."""
        return await self.act(order_no, "receive", action)

    async def propose(self, order_no: str, action: Propose) -> OrderStatus:
        """`propose`: the platform's proposed handling."""
        return await self.act(order_no, "propose", action)

    async def review(self, order_no: str, action: Review) -> OrderStatus:
        """`review`: the supervising department's decision on the proposal."""
        return await self.act(order_no, "review", action)

    async def return_to_hotline(self, order_no: str, action: ReturnToHotline) -> OrderStatus:
        """`return_to_hotline`: the platform gives the order back."""
        return await self.act(order_no, "return_to_hotline", action)

    async def contact_reporter(self, order_no: str, action: ContactReporter) -> OrderStatus:
        """`contact_reporter`: a unit records its contact with the reporter."""
        return await self.act(order_no, "contact_reporter", action)

    async def return_order(self, order_no: str, action: ReturnOrder) -> OrderStatus:
        """`return_order`: a unit returns its handling order within 8 hours."""
        return await self.act(order_no, "return_order", action)

    async def request_extension(self, order_no: str, action: RequestExtension) -> OrderStatus:
        """`request_extension`: the lead unit asks for more time."""
        return await self.act(order_no, "request_extension", action)

    async def contribute(self, order_no: str, action: Contribute) -> OrderStatus:
        """`contribute`: an assisting unit's contribution."""
        return await self.act(order_no, "contribute", action)

    async def release_assisting_unit(self, order_no: str, action: ReleaseAssistingUnit) -> OrderStatus:
        """`release_assisting_unit`: the platform releases an assisting unit."""
        return await self.act(order_no, "release_assisting_unit", action)

    async def submit_result(self, order_no: str, action: SubmitResult) -> OrderStatus:
        """`submit_result`: the lead unit's result."""
        return await self.act(order_no, "submit_result", action)

    async def file_appeal(self, order_no: str, action: FileAppeal) -> OrderStatus:
        """`file_appeal`: the platform contests a dissatisfied verdict."""
        return await self.act(order_no, "file_appeal", action)

    async def extension_decision(self, order_no: str, action: ExtensionDecision) -> OrderStatus:
        """`extension_decision`: the city hotline decides a pending extension."""
        return await self.act(order_no, "extension_decision", action)

    async def callback(self, order_no: str, action: Callback) -> OrderStatus:
        """`callback`: the city hotline's callback verdict."""
        return await self.act(order_no, "callback", action)

    async def appeal_decision(self, order_no: str, action: AppealDecision) -> OrderStatus:
        """`appeal_decision`: the city hotline decides the appeal."""
        return await self.act(order_no, "appeal_decision", action)

    async def withdraw(self, order_no: str, action: Withdraw) -> OrderStatus:
        """`withdraw`: the city hotline withdraws the order."""
        return await self.act(order_no, "withdraw", action)

    async def act(self, order_no: str, name: str, action: Action) -> OrderStatus:
        """Send action ``name`` as an Update and return the order's status after it.

        Raises:
            ActionRefused: the workflow refused it (the message names the rule); nothing changed.
            OrderNotFound: no such order.
        """
        try:
            result: OrderStatus = await self.handle(order_no).execute_update(
                name, action.model_dump(mode="json", exclude_none=True), result_type=OrderStatus
            )
        except WorkflowUpdateFailedError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError):
                raise ActionRefused(cause.message) from None
            raise
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise OrderNotFound(order_no) from None
            raise
        return result

    async def signal(self, order_no: str, name: str, action: Action) -> None:
        """Send action ``name`` as a Signal (fire-and-forget; a refusal lands in rejected_actions)."""
        try:
            await self.handle(order_no).signal(name, action.model_dump(mode="json", exclude_none=True))
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise OrderNotFound(order_no) from None
            raise
