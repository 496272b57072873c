"""One valid action must never end an order (issue 12, found while building `make chaos`).

Seen on the dev server: `submit_result` with 100 appeal materials of 5,000 characters each (every
field within its schema; 1.5 MB of UTF-8) is accepted, and the workflow task that answers it and
schedules the record carries the materials twice: past gRPC's 4 MB the server terminates the order
(`GrpcMessageTooLarge`), for good. The rules now refuse such a payload (`invalid_payload`: at most 20
items to a list) and keep what an order holds bounded (`tests/domain/test_bounded_state.py`).
"""

from __future__ import annotations

import contextlib
import uuid

import asyncpg
import pytest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.service import RPCError

from domain.contract import WORK_ORDER, OrderAction, order_workflow_id
from tests.support.workflows import Driver, new_order, running_worker, unit

pytestmark = pytest.mark.integration


async def test_a_result_with_megabytes_of_materials_leaves_the_order_running(
    dev_client: Client, pool: asyncpg.Pool, task_queue: str
) -> None:
    no = f"BIG{uuid.uuid4().hex[:10]}"
    async with running_worker(dev_client, pool, task_queue):
        handle = await dev_client.start_workflow(
            WORK_ORDER, new_order(no), id=order_workflow_id(no), task_queue=task_queue
        )
        d = Driver(handle)
        await d.status()
        await d.to_handling()
        at = await d.since_dispatch()
        await d.do(OrderAction.CONTACT_REPORTER, unit("dept-roads"), at=at, method="phone")
        payload = {"result": "已修复", "reporter_informed_at": at, "appeal_materials": ["材" * 5000] * 100}
        with contextlib.suppress(WorkflowUpdateFailedError, RPCError):  # refused: fine, if the order lives on
            await d.do(OrderAction.SUBMIT_RESULT, unit("dept-roads"), **payload)
        described = await handle.describe()
        assert described.status == WorkflowExecutionStatus.RUNNING
        await handle.terminate("test over")
