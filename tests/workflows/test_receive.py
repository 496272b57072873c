"""The first slice of `WorkOrder` on the time-skipping server: start, receive, status."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from domain.errors import RefusalKind
from domain.models import OrderStatus, Phase
from tests.support.workflows import Driver, actor, new_order, running_worker


def _no() -> str:
    return f"T{uuid.uuid4().hex[:12]}"


async def _wait_written(pool: asyncpg.Pool, order_no: str, phase: str) -> asyncpg.Record:
    import asyncio

    for _ in range(100):
        row = await pool.fetchrow("SELECT * FROM orders WHERE order_no = $1", order_no)
        if row is not None and row["phase"] == phase:
            return row
        await asyncio.sleep(0.1)
    raise AssertionError(f"order {order_no} never reached {phase} in PostgreSQL")


class TestReceive:
    async def test_receive_moves_the_order_to_received_and_is_recorded(
        self, time_skipping_env: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
    ) -> None:
        """An operator of the order's platform receives it; the phase and timeline reach PostgreSQL."""
        client = time_skipping_env.client
        no = _no()
        async with running_worker(client, pool, task_queue):
            now = await time_skipping_env.get_current_time()
            handle = await client.start_workflow(
                "WorkOrder",
                new_order(no, dispatched_at=now.isoformat()),
                id=f"order-{no}",
                task_queue=task_queue,
            )
            status = await handle.execute_update("receive", {"actor": actor()}, result_type=OrderStatus)
            assert status.phase is Phase.RECEIVED
            assert [e.kind for e in status.timeline] == ["transferred", "received"]
            assert status.rulebook == "tianjin-2021"
            row = await _wait_written(pool, no, "received")
            kinds = await pool.fetch("SELECT kind FROM order_timeline WHERE order_no = $1 ORDER BY seq", no)
            assert [k["kind"] for k in kinds] == ["transferred", "received"]
            assert row["platform"] == "center"
            await handle.terminate("test over")

    async def test_update_from_a_unit_is_refused_and_changes_nothing(
        self, time_skipping_env: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
    ) -> None:
        """A district commission cannot receive for the platform; the error names who may."""
        client = time_skipping_env.client
        no = _no()
        async with running_worker(client, pool, task_queue):
            handle = await client.start_workflow("WorkOrder", new_order(no), id=f"order-{no}", task_queue=task_queue)
            with pytest.raises(WorkflowUpdateFailedError) as err:
                await handle.execute_update("receive", {"actor": actor("district-hexi", "handler")})
            cause = err.value.cause
            assert isinstance(cause, ApplicationError)
            assert cause.type == RefusalKind.NO_STANDING
            assert "district-hexi" in cause.message
            assert "'center'" in cause.message
            status = await handle.query("status", result_type=OrderStatus)
            assert status.phase is Phase.AWAITING_RECEIPT
            assert status.rejected_actions == []
            await handle.terminate("test over")

    async def test_utilities_orders_belong_to_the_utilities_platform(
        self, time_skipping_env: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
    ) -> None:
        """A heating order is received by the Public Utilities Bureau, not the center."""
        client = time_skipping_env.client
        no = _no()
        async with running_worker(client, pool, task_queue):
            handle = await client.start_workflow(
                "WorkOrder",
                new_order(no, category="heating"),
                id=f"order-{no}",
                task_queue=task_queue,
            )
            with pytest.raises(WorkflowUpdateFailedError):
                await handle.execute_update("receive", {"actor": actor("center")})
            status = await handle.execute_update("receive", {"actor": actor("utilities")}, result_type=OrderStatus)
            assert status.platform.value == "utilities"
            assert status.phase is Phase.RECEIVED
            await handle.terminate("test over")

    async def test_bad_signal_is_recorded_among_rejected_actions(
        self, time_skipping_env: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
    ) -> None:
        """A malformed signal changes nothing but is kept with its reason."""
        client = time_skipping_env.client
        no = _no()
        async with running_worker(client, pool, task_queue):
            handle = await client.start_workflow("WorkOrder", new_order(no), id=f"order-{no}", task_queue=task_queue)
            await handle.signal("receive", {"actor": {"org": "center", "role": "boss"}})
            status = await Driver(handle).status()
            assert status.phase is Phase.AWAITING_RECEIPT
            [rejected] = status.rejected_actions
            assert rejected.action == "receive"
            assert "actor.person: required field is missing" in rejected.reason
            assert "actor.role" in rejected.reason
            await handle.signal("receive", {"actor": actor(), "request_id": "r1"})
            await handle.signal("receive", {"actor": actor(), "request_id": "r1"})
            status = await handle.query("status", result_type=OrderStatus)
            assert status.phase is Phase.RECEIVED
            assert len(status.rejected_actions) == 1
            await handle.terminate("test over")

    async def test_repeated_request_id_takes_effect_once(
        self, time_skipping_env: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
    ) -> None:
        """The same receive sent twice as an update is applied once, and the second is no error."""
        client = time_skipping_env.client
        no = _no()
        async with running_worker(client, pool, task_queue):
            handle = await client.start_workflow("WorkOrder", new_order(no), id=f"order-{no}", task_queue=task_queue)
            payload = {"actor": actor(), "request_id": "same"}
            await handle.execute_update("receive", payload)
            status = await handle.execute_update("receive", payload, result_type=OrderStatus)
            assert [e.kind for e in status.timeline].count("received") == 1
            await handle.terminate("test over")


class TestInvalidStart:
    async def test_invalid_new_order_fails_at_once_naming_the_field(
        self, time_skipping_env: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
    ) -> None:
        """A NewOrder with a naive datetime fails the workflow with a message naming the field."""
        client = time_skipping_env.client
        no = _no()
        async with running_worker(client, pool, task_queue):
            handle = await client.start_workflow(
                "WorkOrder",
                new_order(no, dispatched_at="2026-03-06T09:00:00"),
                id=f"order-{no}",
                task_queue=task_queue,
            )
            with pytest.raises(WorkflowFailureError) as err:
                await handle.result()
            cause = err.value.cause
            assert isinstance(cause, ApplicationError)
            assert cause.type == "InvalidOrder"
            assert "dispatched_at" in cause.message
            assert "naive" in cause.message

    async def test_dispatched_in_the_future_is_refused(
        self, time_skipping_env: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
    ) -> None:
        """dispatched_at more than 5 minutes ahead of now is refused."""
        client = time_skipping_env.client
        no = _no()
        async with running_worker(client, pool, task_queue):
            handle = await client.start_workflow(
                "WorkOrder",
                new_order(no, dispatched_at="2099-01-01T09:00:00+08:00"),
                id=f"order-{no}",
                task_queue=task_queue,
            )
            with pytest.raises(WorkflowFailureError) as err:
                await handle.result()
            assert "dispatched_at" in str(err.value.cause)
