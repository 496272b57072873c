"""`hotline replay-check` against histories the current code made on a dev server: the current code
passes; a deliberately incompatible copy (a `workflow.sleep` before its first activity, registered
under the same workflow name) is caught, naming the workflow id and the first diverging event.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from temporalio import workflow
from temporalio.client import Client

from domain.calendar import SHANGHAI
from domain.contract import WORK_ORDER, order_workflow_id
from domain.models import NewOrder
from domain.order import Order
from starter.client import HotlineClient
from tests.support.workflows import PLATFORM, new_order, running_worker
from workers.dev import TemporalDevServer
from workers.replay_check import replay_check, visibility_query
from workers.worker import WORKFLOWS
from workflows.doubtful_order import DoubtfulOrder
from workflows.work_order import WorkOrder

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent / "hotline"


@workflow.defn(name=WORK_ORDER, sandboxed=False)
class SleepsFirst(WorkOrder):
    """The incompatible release: it waits a second before binding the rulebook (its first activity)."""

    @workflow.init
    def __init__(self, raw: Any) -> None:
        super().__init__(raw)

    @workflow.run
    async def run(self, raw: Any) -> Any:
        return await super().run(raw)

    async def _start(self, new: NewOrder) -> Order:
        await workflow.sleep(timedelta(seconds=1))
        return await super()._start(new)


@workflow.defn(name=WORK_ORDER, sandboxed=False)
class SleepsAfterWaking(WorkOrder):
    """Another incompatible release: a timer each time the order wakes, before the record that follows."""

    @workflow.init
    def __init__(self, raw: Any) -> None:
        super().__init__(raw)

    @workflow.run
    async def run(self, raw: Any) -> Any:
        return await super().run(raw)

    async def _after_wake(self, machine: Order) -> None:
        await workflow.sleep(timedelta(seconds=1))
        await super()._after_wake(machine)


@pytest.fixture(scope="module")
async def running_orders(dev_client: Client, pool: asyncpg.Pool) -> tuple[str, list[str]]:
    """Two orders of a task queue of the module's own, made by the current code and still running."""
    task_queue = f"tq-replay-{uuid.uuid4().hex[:8]}"
    hotline = HotlineClient(dev_client, task_queue=task_queue)
    numbers = [f"RPL{uuid.uuid4().hex[:8].upper()}" for _ in range(2)]
    async with running_worker(dev_client, pool, task_queue):
        for no in numbers:
            await hotline.start_order(
                NewOrder.model_validate(new_order(no, dispatched_at=datetime.now(SHANGHAI).isoformat()))
            )
            handle = hotline.handle(no)
            await _recorded(pool, no, "awaiting_receipt")  # the order waits, as it does between people's actions
            await handle.execute_update("receive", {"actor": PLATFORM})
            await _recorded(pool, no, "received")
            await handle.execute_update(
                "propose", {"actor": PLATFORM, "lead_unit": "dept-roads", "assisting_units": [], "opinion": "转道桥处"}
            )
            await _recorded(pool, no, "in_review")
    return task_queue, numbers


async def _recorded(pool: asyncpg.Pool, order_no: str, phase: str) -> None:
    for _ in range(200):
        if await pool.fetchval("SELECT phase FROM orders WHERE order_no = $1", order_no) == phase:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{order_no} never recorded {phase}")


async def test_the_current_code_replays_the_running_orders(
    dev_client: Client, running_orders: tuple[str, list[str]]
) -> None:
    task_queue, _ = running_orders
    report = await replay_check(dev_client, task_queue=task_queue)
    assert report.ok, [d.line() for d in report.divergences]
    assert (report.matched, report.replayed) == (2, 2)
    assert "none diverges" in report.summary()


async def test_an_incompatible_copy_is_caught_naming_the_order_and_the_event(
    dev_client: Client, running_orders: tuple[str, list[str]]
) -> None:
    """A timer where the history recorded the lifecycle-2 patch marker (the first command of the first
    workflow task): every running order is named, with that event."""
    task_queue, numbers = running_orders
    report = await replay_check(dev_client, task_queue=task_queue, workflows=[SleepsFirst, DoubtfulOrder])
    assert not report.ok
    assert sorted(d.workflow_id for d in report.divergences) == sorted(order_workflow_id(n) for n in numbers)
    for d in report.divergences:
        history = await dev_client.get_workflow_handle(d.workflow_id, run_id=d.run_id).fetch_history()
        marker = next(e for e in history.events if e.HasField("marker_recorded_event_attributes"))
        assert d.workflow_type == WORK_ORDER
        assert (d.event_id, d.event) == (marker.event_id, "MARKER_RECORDED (core_patch lifecycle-2)"), d.line()
        assert "Nondeterminism" in d.reason
        line = d.line()
        assert line.startswith(
            f"{d.workflow_id} (run {d.run_id}, WorkOrder): diverges at event {marker.event_id} MARKER_RECORDED"
        )
        assert "\n" not in line
    assert "2 of 2 histories diverge" in report.summary()


async def test_a_later_divergence_is_found_where_it_is(
    dev_client: Client, running_orders: tuple[str, list[str]]
) -> None:
    """A copy that changes what happens after an action (a timer before what the order does on waking):
    the event named is in that later workflow task, not at the start."""

    task_queue, _ = running_orders
    report = await replay_check(dev_client, task_queue=task_queue, workflows=[SleepsAfterWaking], sample=1, seed=7)
    assert (report.matched, report.replayed) == (2, 1)
    [d] = report.divergences
    history = await dev_client.get_workflow_handle(d.workflow_id, run_id=d.run_id).fetch_history()
    received = next(e for e in history.events if e.HasField("workflow_execution_update_accepted_event_attributes"))
    assert d.event_id is not None
    assert d.event_id > received.event_id, d.line()  # after the receive update, where the order woke
    assert f"HistoryEvent(id: {d.event_id}" in d.reason  # the event the SDK names


async def test_the_command_passes_on_the_current_code(
    dev_server: TemporalDevServer, running_orders: tuple[str, list[str]]
) -> None:
    """`hotline replay-check` on the cluster the settings name: exit 0, the summary on stderr; a query
    narrows it (to nothing here)."""
    task_queue, _ = running_orders
    env = {
        **os.environ,
        "HOTLINE_TEMPORAL_ADDRESS": dev_server.address,
        "HOTLINE_TASK_QUEUE": task_queue,
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(BIN), "replay-check", *args], env=env, capture_output=True, text=True, timeout=120)

    passed, narrowed = await asyncio.gather(
        asyncio.to_thread(run), asyncio.to_thread(run, "--query", "WorkflowType = 'DoubtfulOrder'")
    )
    assert passed.returncode == 0, passed.stderr
    assert passed.stdout == ""
    assert passed.stderr.startswith("replay-check: 2 histories replay on this release's code, none diverges")
    assert narrowed.returncode == 0, narrowed.stderr
    assert narrowed.stderr.startswith("replay-check: 0 histories")


def test_the_visibility_query() -> None:
    assert visibility_query("hotline-orders") == "TaskQueue = 'hotline-orders' AND ExecutionStatus = 'Running'"
    assert (
        visibility_query("q", "OrderPhase = 'received'", include_closed=True)
        == "TaskQueue = 'q' AND (OrderPhase = 'received')"
    )
    assert len(WORKFLOWS) == 4
