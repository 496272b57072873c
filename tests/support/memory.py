"""The fast tier's stand-ins: the project's record activities, in memory.

`MemoryRecords` registers ``record_order``, ``record_inquiry`` and ``load_calendar_years`` under the
names the workflows call, so `WorkOrder` and `DoubtfulOrder` run unchanged without PostgreSQL. The
calendar is the `chinesecalendar` package's (what a freshly seeded database holds). What the
workflows would have written is kept per workflow id, revision by revision, for a test to read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker

from activities.store.calendar_data import package_calendar
from domain.calendar import BusinessCalendar
from domain.inquiry import InquiryRecord
from domain.records import CalendarRequest, CalendarYears, OrderRecord
from workers.worker import WORKFLOWS


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
        activities=[kept.record_order, kept.record_inquiry, kept.load_calendar_years],
        graceful_shutdown_timeout=timedelta(seconds=5),
    )
    async with worker:
        yield kept
