"""Issue 11, done when: `hotline rulebook import` of a successor valid from a date changes the deadlines
of orders started after it and of none before.

Real `WorkOrder` runs on the time-skipping server with the real activities on a PostgreSQL database of
the test's own (the successor must not reach the other tests' orders); the import is the `hotline`
command an operator runs.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from temporalio.testing import WorkflowEnvironment

from activities.store import rulebooks
from activities.store.calendar_data import package_calendar
from activities.store.db import create_pool
from domain.calendar import SHANGHAI
from domain.deadlines import completion_deadline, receipt_deadline
from domain.models import Category, OrderStatus, Tier
from domain.rulebook import TIANJIN_2021, Rulebook, parse_rulebook
from starter.codec import KeyRing
from tests.support.rulebooks import hotline, new_database, successor_file, write_file
from tests.support.temporal import start_time_skipping
from tests.support.workflows import Driver, new_order, running_worker

#: The successor: shorter receipt windows, four working days for a normal order instead of six.
CHANGES = {
    "receipt_in_working_period": "PT2H",
    "receipt_after_work_start": "PT2H",
    "receipt_after_long_break": "PT12H",
    "completion_working_days": {"normal": 4, "urgent": 2, "very_urgent": 1},
}


@dataclass
class Stack:
    env: WorkflowEnvironment
    task_queue: str
    url: str
    pool: asyncpg.Pool

    async def start(self, dispatched_at: datetime) -> Driver:
        no = f"RB{uuid.uuid4().hex[:10]}"
        handle = await self.env.client.start_workflow(
            "WorkOrder",
            new_order(no, dispatched_at=dispatched_at.isoformat()),
            id=f"order-{no}",
            task_queue=self.task_queue,
        )
        return Driver(handle)


@pytest.fixture
async def stack(database_url: str, keyring: KeyRing, task_queue: str) -> AsyncIterator[Stack]:
    """A time-skipping server of the test's own and the project's worker on a database of its own."""
    url = await new_database(database_url)
    pool = await create_pool(url, max_size=4)
    env = await start_time_skipping(keyring)
    try:
        async with running_worker(env.client, pool, task_queue):
            yield Stack(env, task_queue, url, pool)
    finally:
        await env.shutdown()
        await pool.close()


def receipt_due(book: Rulebook, at: datetime) -> datetime:
    return receipt_deadline(book, package_calendar(), at, tier=Tier.NORMAL, category=Category.GENERAL).due


def completion_due(book: Rulebook, at: datetime) -> datetime:
    return completion_deadline(book, package_calendar(), at, tier=Tier.NORMAL, category=Category.GENERAL).due


def unit_dispatch(s: OrderStatus) -> datetime:
    return s.assignments[0].dispatched_at


async def test_import_changes_orders_started_after_it_and_none_before(stack: Stack, tmp_path: Path) -> None:
    """An order running at the import keeps tianjin-2021 (even for deadlines it computes later, past the
    successor's date); one started after the import but dispatched before the successor's date keeps it
    too; one dispatched on the successor's date gets the successor's windows."""
    t0 = await stack.env.get_current_time()
    before = await stack.start(t0)
    s = await before.status()
    assert s.rulebook == "tianjin-2021"
    assert s.deadlines["receipt"].due == receipt_due(TIANJIN_2021, t0)
    assert "past its nominal end 2024-04-02" in s.deadlines["receipt"].explanation
    receipt_before = s.deadlines["receipt"]

    effective = t0.astimezone(SHANGHAI).date() + timedelta(days=2)
    path = write_file(tmp_path, successor_file("tianjin-next", effective, **CHANGES), "tianjin-next.json")
    r = hotline("rulebook", "import", str(path), "--by", "test", database_url=stack.url)
    assert r.returncode == 0, r.stderr
    successor = parse_rulebook(path.read_text(encoding="utf-8"))
    assert [v.id for v in await rulebooks.list_versions(stack.pool)] == ["tianjin-2021", "tianjin-next"]

    # started after the import, dispatched before the successor's date: tianjin-2021
    between = await stack.start(await stack.env.get_current_time())
    assert (await between.status()).rulebook == "tianjin-2021"

    await stack.env.sleep(timedelta(days=3))  # past the successor's first day
    t1 = await stack.env.get_current_time()
    assert t1.astimezone(SHANGHAI).date() > effective

    after = await stack.start(t1)
    s = await after.status()
    assert s.rulebook == "tianjin-next"
    assert s.deadlines["receipt"].due == receipt_due(successor, t1)
    assert s.deadlines["receipt"].due < receipt_due(TIANJIN_2021, t1)
    assert "nominal end" not in s.deadlines["receipt"].explanation
    s = await after.to_handling()
    assert s.deadlines["completion"].due == completion_due(successor, unit_dispatch(s))
    assert "4 working days" in s.deadlines["completion"].explanation

    # the order that ran through the import: its receipt deadline as it was, and its completion
    # window, computed now (past the successor's date), still tianjin-2021's six working days
    s = await before.status()
    assert s.rulebook == "tianjin-2021"
    assert s.deadlines["receipt"].due == receipt_before.due
    assert s.deadlines["receipt"].explanation == receipt_before.explanation
    s = await before.to_handling()
    assert s.rulebook == "tianjin-2021"
    assert s.deadlines["completion"].due == completion_due(TIANJIN_2021, unit_dispatch(s))
    assert "6 working days" in s.deadlines["completion"].explanation
    s = await between.to_handling()
    assert s.deadlines["completion"].due == completion_due(TIANJIN_2021, unit_dispatch(s))

    # the projection in PostgreSQL says the same
    bound = dict(await stack.pool.fetch("SELECT order_no, rulebook FROM orders"))
    assert sorted(bound.values()) == ["tianjin-2021", "tianjin-2021", "tianjin-next"]
