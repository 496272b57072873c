"""A typed Python client for handler apps and the `hotline` command: the contract, in models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain.models import NewOrder, OrderStatus, Receive, workflow_id_for
from workers.settings import Settings

WORKFLOW_TYPE = "WorkOrder"


class OrderAlreadyRunning(Exception):
    """An order with this number is running; a second start changes nothing."""


class TemporalUnreachable(Exception):
    """The Temporal front end does not answer at the configured address."""


class OrderNotFound(Exception):
    """No workflow exists for this order number."""


class HotlineClient:
    """Start orders, send actions, read state: one method per contract item."""

    def __init__(self, client: Client, *, task_queue: str) -> None:
        self.client = client
        self.task_queue = task_queue

    @classmethod
    async def connect(cls, settings: Settings | None = None) -> HotlineClient:
        """Connect with the `HOTLINE_*` settings and the project's data converter."""
        s = settings or Settings.from_env()
        try:
            client = await Client.connect(
                s.temporal_address, namespace=s.namespace, data_converter=pydantic_data_converter
            )
        except RuntimeError as err:
            raise TemporalUnreachable(
                f"cannot reach Temporal at {s.temporal_address} (HOTLINE_TEMPORAL_ADDRESS); "
                "is the stack up (`make run`)?"
            ) from err
        return cls(client, task_queue=s.task_queue)

    def handle(self, order_no: str) -> WorkflowHandle[Any, Any]:
        """The handle of the order's current run."""
        return self.client.get_workflow_handle(workflow_id_for(order_no))

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
                    f"{order.tier.value} · {order.category.value} · "
                    f"{order.location.district} · {order.subject}"
                ),
            )
        except WorkflowAlreadyStartedError:
            raise OrderAlreadyRunning(order.order_no) from None
        return handle.result_run_id or ""

    async def status(self, order_no: str) -> OrderStatus:
        """The `status` query."""
        try:
            result = await self.handle(order_no).query("status", result_type=OrderStatus)
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise OrderNotFound(order_no) from None
            raise
        return result  # type: ignore[no-any-return]

    async def receive(self, order_no: str, action: Receive) -> OrderStatus:
        """The `receive` update."""
        return await self._update(order_no, "receive", action)

    async def _update(self, order_no: str, name: str, action: BaseModel) -> OrderStatus:
        result = await self.handle(order_no).execute_update(
            name, action.model_dump(mode="json", exclude_none=True), result_type=OrderStatus
        )
        return result  # type: ignore[no-any-return]
