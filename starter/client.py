"""A typed Python client for handler apps and the `hotline` command: the contract, in models.

    client = await HotlineClient.connect()
    await client.start_order(NewOrder(...))
    status = await client.receive("TJ1", Receive(actor=Actor(org="center", person="王工", role="operator")))

Every action is sent as an Update (a refusal raises `ActionRefused` with its kind and the workflow's words);
`signal(...)` sends the same payload fire-and-forget. A unit's action may name the unit's handler
(专人, Art. 8.4) with ``handler=Handler(person=..., phone=...)``; without one, the person of the
unit's first action is its handler.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, overload

from temporalio.client import Client, WorkflowHandle, WorkflowQueryFailedError, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.runtime import Runtime
from temporalio.service import RPCError, RPCStatusCode

from domain.contract import (
    HANDLING_ORDER_QUERY,
    STATUS_QUERY,
    WORK_ORDER,
    OrderAction,
    SearchAttribute,
    order_no_of,
    order_workflow_id,
)
from domain.models import (
    Action,
    AppealDecision,
    Callback,
    ContactReporter,
    Contribute,
    ExtensionDecision,
    FileAppeal,
    ForwardExtension,
    Handler,
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
    ReviewResult,
    SubmitResult,
    Withdraw,
)
from starter import connection, telemetry
from starter.codec import KeyRing, KeyRingError, load_keyring
from starter.errors import ActionRefused, OrderAlreadyRunning, OrderNotFound, TemporalUnreachable, refusal_kind
from starter.settings import Settings

__all__ = [
    "ActionRefused",
    "Handler",
    "HotlineClient",
    "OrderAlreadyRunning",
    "OrderNotFound",
    "OrderSummary",
    "TemporalUnreachable",
]


@overload
def refusal(err: WorkflowQueryFailedError) -> ActionRefused: ...
@overload
def refusal(err: WorkflowUpdateFailedError) -> ActionRefused | None: ...
def refusal(err: WorkflowUpdateFailedError | WorkflowQueryFailedError) -> ActionRefused | None:
    """The `ActionRefused` an update's or a query's failure means, with its kind; None if it is no refusal.

    An update's refusal is an `ApplicationError` whose type is the kind. A query's failure reaches
    the client as words only (Temporal passes no type on), so its kind is `FALLBACK_KIND`.
    """
    if isinstance(err, WorkflowQueryFailedError):
        return ActionRefused(err.message, refusal_kind(None))
    cause = err.cause
    if isinstance(cause, ApplicationError):
        return ActionRefused(cause.message, refusal_kind(cause.type))
    return None


def summary_of(order: NewOrder) -> str:
    """The one line the Web UI shows for an order: tier · category · district · subject (no personal data)."""
    return f"{order.tier.value} · {order.category.value} · {order.location.district} · {order.subject}"


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
    async def connect(
        cls, settings: Settings | None = None, *, keyring: KeyRing | None = None, runtime: Runtime | None = None
    ) -> HotlineClient:
        """Connect with the settings (and Temporal's own `TEMPORAL_*` configuration) and the project's
        data converter.

        Payloads are encrypted with ``keyring`` (default: `starter.codec.load_keyring(settings)`). With
        ``HOTLINE_OTLP_ENDPOINT`` set, the client's calls are traced (`starter.telemetry`).

        Raises:
            TemporalUnreachable: no usable encryption keys (the message names the fault; nothing was
                sent), or Temporal cannot be used as configured or does not answer (one line naming
                the setting: `TemporalConnectError`).
        """
        s = settings or Settings.from_env()
        try:
            ring = keyring if keyring is not None else load_keyring(s)
        except KeyRingError as err:
            raise TemporalUnreachable(str(err)) from None
        if not telemetry.tracing_enabled():  # a process that set up tracing itself keeps its own
            telemetry.enable_tracing(s, "hotline-client", batch=False)
        client = await connection.connect(s, keyring=ring, runtime=runtime)
        return cls(client, task_queue=s.task_queue)

    def handle(self, order_no: str) -> WorkflowHandle[Any, Any]:
        """The handle of the order's current run."""
        return self.client.get_workflow_handle(order_workflow_id(order_no))

    # -- start --------------------------------------------------------------------------------

    async def start_order(self, order: NewOrder) -> str:
        """Start `WorkOrder` for ``order``; returns the run id. The one way an order is started.

        The contract: a second start for an order that is running is refused and changes nothing;
        an order that was returned to the city hotline or withdrawn (any closed run) may be
        transferred again later under the same number, and then runs anew. A caller that must
        never start a number twice (`hotline order import`, the demo) asks `exists` first.

        Raises:
            OrderAlreadyRunning: the order is running; nothing changed.
        """
        try:
            handle = await self.client.start_workflow(
                WORK_ORDER,
                order.model_dump(mode="json"),
                id=order.workflow_id,
                task_queue=self.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                static_summary=summary_of(order),
            )
        except WorkflowAlreadyStartedError:
            raise OrderAlreadyRunning(order.order_no) from None
        return handle.result_run_id or ""

    async def exists(self, order_no: str) -> bool:
        """Whether the order number ever ran here: running, or closed (returned, withdrawn, done)."""
        try:
            await self.handle(order_no).describe()
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return False
            raise
        return True

    # -- queries ------------------------------------------------------------------------------

    async def status(self, order_no: str) -> OrderStatus:
        """The `status` query."""
        result: OrderStatus = await self._query(order_no, STATUS_QUERY, None, OrderStatus)
        return result

    async def handling_order(self, order_no: str, unit: str) -> HandlingOrder:
        """The `handling_order` query: what ``unit`` sees."""
        result: HandlingOrder = await self._query(order_no, HANDLING_ORDER_QUERY, unit, HandlingOrder)
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
        except WorkflowQueryFailedError as err:  # the workflow refused to answer
            raise refusal(err) from None

    async def list_orders(self, query: str = "", *, limit: int | None = None) -> AsyncIterator[OrderSummary]:
        """Orders matching a visibility ``query`` (the contract's search attributes), newest first."""
        full = f"WorkflowType = '{WORK_ORDER}'" + (f" AND ({query})" if query else "")
        count = 0
        async for wf in self.client.list_workflows(full):
            attrs = {k.name: v for k, v in ((p.key, p.value) for p in wf.typed_search_attributes)}
            yield OrderSummary(
                order_no=order_no_of(wf.id),
                run_id=wf.run_id,
                status=wf.status.name.lower() if wf.status else "",
                phase=str(attrs.get(SearchAttribute.ORDER_PHASE, "")),
                tier=str(attrs.get(SearchAttribute.ORDER_TIER, "")),
                category=str(attrs.get(SearchAttribute.ORDER_CATEGORY, "")),
                platform=str(attrs.get(SearchAttribute.ORDER_PLATFORM, "")),
                district=str(attrs.get(SearchAttribute.ORDER_DISTRICT, "")),
                units=list(attrs.get(SearchAttribute.ORDER_UNITS) or []),
                flags=list(attrs.get(SearchAttribute.ORDER_FLAGS) or []),
                receipt_due=attrs.get(SearchAttribute.RECEIPT_DUE),
                completion_due=attrs.get(SearchAttribute.COMPLETION_DUE),
                started=wf.start_time,
            )
            count += 1
            if limit is not None and count >= limit:
                return

    # -- actions ------------------------------------------------------------------------------

    async def receive(self, order_no: str, action: Receive) -> OrderStatus:
        """`receive`: the platform checks the order in."""
        return await self.act(order_no, OrderAction.RECEIVE, action)

    async def propose(self, order_no: str, action: Propose) -> OrderStatus:
        """`propose`: the platform's proposed handling."""
        return await self.act(order_no, OrderAction.PROPOSE, action)

    async def review(self, order_no: str, action: Review) -> OrderStatus:
        """`review`: the supervising department's decision on the proposal."""
        return await self.act(order_no, OrderAction.REVIEW, action)

    async def return_to_hotline(self, order_no: str, action: ReturnToHotline) -> OrderStatus:
        """`return_to_hotline`: the platform gives the order back."""
        return await self.act(order_no, OrderAction.RETURN_TO_HOTLINE, action)

    async def contact_reporter(self, order_no: str, action: ContactReporter) -> OrderStatus:
        """`contact_reporter`: a unit records its contact with the reporter.

        Its ``handler`` (optional) names the unit's handler.
        """
        return await self.act(order_no, OrderAction.CONTACT_REPORTER, action)

    async def return_order(self, order_no: str, action: ReturnOrder) -> OrderStatus:
        """`return_order`: a unit returns its handling order within 8 hours.

        Its ``handler`` (optional) names the unit's handler.
        """
        return await self.act(order_no, OrderAction.RETURN_ORDER, action)

    async def request_extension(self, order_no: str, action: RequestExtension) -> OrderStatus:
        """`request_extension`: the lead unit asks for more time (it goes to the platform).

        Its ``handler`` (optional) names the unit's handler.
        """
        return await self.act(order_no, OrderAction.REQUEST_EXTENSION, action)

    async def contribute(self, order_no: str, action: Contribute) -> OrderStatus:
        """`contribute`: an assisting unit's contribution.

        Its ``handler`` (optional) names the unit's handler.
        """
        return await self.act(order_no, OrderAction.CONTRIBUTE, action)

    async def release_assisting_unit(self, order_no: str, action: ReleaseAssistingUnit) -> OrderStatus:
        """`release_assisting_unit`: the platform releases an assisting unit."""
        return await self.act(order_no, OrderAction.RELEASE_ASSISTING_UNIT, action)

    async def submit_result(self, order_no: str, action: SubmitResult) -> OrderStatus:
        """`submit_result`: the lead unit's result (it waits for the platform's review).

        Its ``handler`` (optional) names the unit's handler.
        """
        return await self.act(order_no, OrderAction.SUBMIT_RESULT, action)

    async def review_result(self, order_no: str, action: ReviewResult) -> OrderStatus:
        """`review_result`: the platform replies to the city hotline with the result, or sends it back to the lead."""
        return await self.act(order_no, OrderAction.REVIEW_RESULT, action)

    async def forward_extension(self, order_no: str, action: ForwardExtension) -> OrderStatus:
        """`forward_extension`: the platform applies to the city hotline for a unit's extension, or declines it."""
        return await self.act(order_no, OrderAction.FORWARD_EXTENSION, action)

    async def file_appeal(self, order_no: str, action: FileAppeal) -> OrderStatus:
        """`file_appeal`: the platform contests a dissatisfied verdict."""
        return await self.act(order_no, OrderAction.FILE_APPEAL, action)

    async def extension_decision(self, order_no: str, action: ExtensionDecision) -> OrderStatus:
        """`extension_decision`: the city hotline decides a pending extension."""
        return await self.act(order_no, OrderAction.EXTENSION_DECISION, action)

    async def callback(self, order_no: str, action: Callback) -> OrderStatus:
        """`callback`: the city hotline's callback verdict."""
        return await self.act(order_no, OrderAction.CALLBACK, action)

    async def appeal_decision(self, order_no: str, action: AppealDecision) -> OrderStatus:
        """`appeal_decision`: the city hotline decides the appeal."""
        return await self.act(order_no, OrderAction.APPEAL_DECISION, action)

    async def withdraw(self, order_no: str, action: Withdraw) -> OrderStatus:
        """`withdraw`: the city hotline withdraws the order."""
        return await self.act(order_no, OrderAction.WITHDRAW, action)

    async def act(self, order_no: str, name: str, action: Action) -> OrderStatus:
        """Send action ``name`` as an Update and return the order's status after it.

        Raises:
            ActionRefused: the workflow refused it (its kind says why, its message names the rule);
                nothing changed.
            OrderNotFound: no such order.
        """
        try:
            result: OrderStatus = await self.handle(order_no).execute_update(
                name, action.model_dump(mode="json", exclude_none=True), result_type=OrderStatus
            )
        except WorkflowUpdateFailedError as err:
            refused = refusal(err)
            if refused is None:
                raise
            raise refused from None
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
