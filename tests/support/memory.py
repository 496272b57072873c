"""The fast tier: the project's record activities in memory, and a test's stack around them.

`MemoryRecords` registers ``record_order``, ``record_inquiry``, ``load_order_rules`` and
``load_calendar_years`` under the names the workflows call, so `WorkOrder` and `DoubtfulOrder`
run unchanged without PostgreSQL. The calendar is the `chinesecalendar` package's (what a freshly
seeded database holds). What the workflows would have written is kept per workflow id, revision by
revision, for a test to read.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.store.calendar_data import package_calendar
from domain.calendar import BusinessCalendar
from domain.contract import DOUBTFUL_ORDER, WORK_ORDER, inquiry_workflow_id, order_workflow_id
from domain.records import CalendarRequest, CalendarYears, InquiryRecord, OrderRecord, OrderRules, OrderRulesRequest
from domain.rulebook import rulebook_for
from tests.support.workflows import Driver, new_order
from workers.worker import WORKFLOWS

#: Where recorded histories go (`HOTLINE_RECORD_HISTORIES=1`), for the replay tests.
HISTORIES = Path(__file__).parents[1] / "replay" / "histories"


class MemoryRecords:
    """What `OrderActivities` and `InquiryActivities` would write, kept in lists instead.

    Args:
        calendar: The business calendar `load_calendar_years` answers from (default: the package's).
    """

    def __init__(self, calendar: BusinessCalendar | None = None) -> None:
        self.calendar = calendar or package_calendar()
        self.orders: dict[str, list[OrderRecord]] = {}
        self.inquiries: dict[str, list[InquiryRecord]] = {}

    @activity.defn(name="load_calendar_years")
    async def load_calendar_years(self, request: CalendarRequest) -> CalendarYears:
        """The known years asked for, as the database would answer after seeding."""
        years = [y for y in (self.calendar.year(n) for n in request.years) if y is not None]
        return CalendarYears(years=years)

    @activity.defn(name="load_order_rules")
    async def load_order_rules(self, request: OrderRulesRequest) -> OrderRules:
        """The rulebook in force at the transfer (the package's versions) and the known years asked for."""
        years = [y for y in (self.calendar.year(n) for n in request.years) if y is not None]
        return OrderRules(rulebook=rulebook_for(request.at), years=years)

    @activity.defn(name="record_order")
    async def record_order(self, record: OrderRecord) -> None:
        """Keep the record (a retry of a revision already kept changes nothing, as in PostgreSQL)."""
        kept = self.orders.setdefault(record.workflow_id, [])
        if not any(r.run_id == record.run_id and r.revision == record.revision for r in kept):
            kept.append(record)

    @activity.defn(name="record_inquiry")
    async def record_inquiry(self, record: InquiryRecord) -> None:
        """Keep the record (a retry of a revision already kept changes nothing)."""
        kept = self.inquiries.setdefault(record.workflow_id, [])
        if not any(r.run_id == record.run_id and r.revision == record.revision for r in kept):
            kept.append(record)

    def latest(self, workflow_id: str) -> OrderRecord:
        """The order's newest record (the projection PostgreSQL would hold)."""
        return max(self.orders[workflow_id], key=lambda r: (r.run_id, r.revision))


@asynccontextmanager
async def memory_worker(
    client: Client, task_queue: str, records: MemoryRecords | None = None
) -> AsyncIterator[MemoryRecords]:
    """The project's workflows on ``task_queue`` with the record activities in memory, for the block."""
    kept = records or MemoryRecords()
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=list(WORKFLOWS),
        activities=[kept.record_order, kept.record_inquiry, kept.load_order_rules, kept.load_calendar_years],
        graceful_shutdown_timeout=timedelta(seconds=5),
    )
    async with worker:
        yield kept


@dataclass
class FastStack:
    """A time-skipping server of the test's own, the workflows on a task queue, the records in memory."""

    env: WorkflowEnvironment
    task_queue: str
    records: MemoryRecords
    orders: list[WorkflowHandle[Any, Any]] = field(default_factory=list)
    inquiries: list[WorkflowHandle[Any, Any]] = field(default_factory=list)

    async def start(self, **changes: Any) -> tuple[Driver, str, datetime]:
        """A new order dispatched now (unless ``changes`` say otherwise)."""
        no = f"F{uuid.uuid4().hex[:12]}"
        now = await self.env.get_current_time()
        changes.setdefault("dispatched_at", now.isoformat())
        handle = await self.env.client.start_workflow(
            WORK_ORDER, new_order(no, **changes), id=order_workflow_id(no), task_queue=self.task_queue
        )
        self.orders.append(handle)
        return Driver(handle), no, now

    async def ask(self, **changes: Any) -> tuple[WorkflowHandle[Any, Any], str]:
        """A new doubtful order asked now of dept-lighting about an order."""
        no = f"Q{uuid.uuid4().hex[:12]}"
        now = await self.env.get_current_time()
        inquiry = {
            "inquiry_no": no,
            "asked_at": now.isoformat(),
            "unit": "dept-lighting",
            "order_no": f"TJ{no}",
            "question": "该路段路灯是否属于市管照明设施？",
            **changes,
        }
        handle = await self.env.client.start_workflow(
            DOUBTFUL_ORDER, inquiry, id=inquiry_workflow_id(no), task_queue=self.task_queue
        )
        self.inquiries.append(handle)
        return handle, no

    async def keep_histories(self, test_name: str) -> None:
        """Write each run's history for the replay tests, named as the PostgreSQL tier names them."""
        HISTORIES.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_-]+", "_", test_name).strip("_")
        for prefix, handles in (("", self.orders), (f"{DOUBTFUL_ORDER}-", self.inquiries)):
            for i, handle in enumerate(handles):
                history = await handle.fetch_history()
                (HISTORIES / f"{prefix}{name}-{i}.json").write_text(history.to_json(), encoding="utf-8")
