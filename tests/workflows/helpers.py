"""Helpers for workflow tests: orders, actors, a worker on a fresh task queue."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from temporalio.client import Client
from temporalio.worker import Worker

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
