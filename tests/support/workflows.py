"""Helpers for workflow tests: orders, actors, a worker on a fresh task queue, a driver of actions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from domain.contract import STATUS_QUERY, OrderAction
from domain.errors import REFUSAL_TYPES
from domain.models import OrderStatus
from workers.worker import build_worker


def new_order(order_no: str, **changes: Any) -> dict[str, Any]:
    """A valid NewOrder as plain JSON, with ``changes`` applied at the top level."""
    order: dict[str, Any] = {
        "order_no": order_no,
        "tier": "normal",
        "category": "general",
        "dispatched_at": "2026-03-06T09:00:00+08:00",
        "reporter": {"name": "张三", "phone": "13800000000", "confidential": False},
        "location": {"district": "hexi", "address": "友谊路与围堤道交口"},
        "subject": "路灯不亮",
        "description": "三盏路灯连续三晚不亮",
        "demands": "尽快修复",
    }
    order.update(changes)
    return order


def actor(org: str = "center", role: str = "operator", person: str = "王工") -> dict[str, str]:
    """An actor as plain JSON."""
    return {"org": org, "person": person, "role": role}


@asynccontextmanager
async def running_worker(client: Client, pool: asyncpg.Pool, task_queue: str) -> AsyncIterator[Worker]:
    """The project's worker on ``task_queue`` for the duration of the block."""
    worker = build_worker(client, pool, task_queue=task_queue)
    async with worker:
        yield worker


PLATFORM = actor("center", "operator", "王工")
SUPERVISOR = actor("dept-hotline", "supervisor", "李处")
HOTLINE = actor("hotline", "hotline", "12345坐席")


def unit(org: str, person: str = "张科") -> dict[str, str]:
    """A handler of ``org``."""
    return actor(org, "handler", person)


def kinds(status: OrderStatus) -> list[str]:
    """The kinds of an order's timeline entries, in order."""
    return [e.kind for e in status.timeline]


class Driver:
    """Sends the contract's actions to one order as updates, in plain JSON."""

    def __init__(self, handle: WorkflowHandle[Any, Any]) -> None:
        self.handle = handle

    async def do(self, name: str, who: dict[str, str], **payload: Any) -> Any:
        return await self.handle.execute_update(name, {"actor": who, **payload}, result_type=OrderStatus)

    async def refused(self, name: str, who: dict[str, str], **payload: Any) -> ApplicationError:
        """Send an action that must be refused; its failure (its type is the refusal's kind)."""
        with pytest.raises(WorkflowUpdateFailedError) as err:
            await self.do(name, who, **payload)
        cause = err.value.cause
        assert isinstance(cause, ApplicationError)
        assert cause.type in REFUSAL_TYPES
        return cause

    async def status(self) -> Any:
        """The `status` query, once the order is set up (its calendar loaded, deadlines known)."""
        for _ in range(100):
            s = await self.handle.query(STATUS_QUERY, result_type=OrderStatus)
            if s.deadlines:
                return s
            await asyncio.sleep(0.05)
        raise AssertionError("the order never finished setting up")

    async def to_handling(self, lead: str = "dept-roads", assisting: list[str] | None = None) -> Any:
        """receive -> propose -> review approved: the order is in handling."""
        await self.do(OrderAction.RECEIVE, PLATFORM)
        await self.do(
            OrderAction.PROPOSE, PLATFORM, lead_unit=lead, assisting_units=assisting or [], opinion="转道桥处办理"
        )
        return await self.do(OrderAction.REVIEW, SUPERVISOR, approved=True, comment="同意")

    async def since_dispatch(self, unit_org: str = "dept-roads") -> str:
        """The instant ``unit_org`` got its handling order: the earliest a unit's report may name."""
        s = await self.status()
        return next(a.dispatched_at for a in reversed(s.assignments) if a.unit == unit_org).isoformat()

    async def to_result_review(self, lead: str = "dept-roads") -> Any:
        """From handling to result_review: the lead contacts the reporter and submits its result."""
        at = await self.since_dispatch(lead)
        await self.do(OrderAction.CONTACT_REPORTER, unit(lead), at=at, method="phone", note="已联系")
        return await self.do(OrderAction.SUBMIT_RESULT, unit(lead), result="已修复", reporter_informed_at=at)

    async def to_callback(self, lead: str = "dept-roads") -> Any:
        """From handling to awaiting_callback: contact, result, the platform's review approves it."""
        await self.to_result_review(lead)
        return await self.do(OrderAction.REVIEW_RESULT, PLATFORM, approved=True, comment="结果属实")
