"""Activities of a doubtful order (Article 7.3): projection, timeline and outboxes in PostgreSQL."""

from __future__ import annotations

import asyncpg
import structlog
from temporalio import activity

from activities.store.inquiries import upsert_inquiry
from activities.store.outbox_writer import RoutingCalendar, write_outbox, write_timeline
from activities.store.tracing import transaction
from domain.inquiry import SUPERVISION
from domain.records import InquiryRecord

log = structlog.get_logger(__name__)


class InquiryActivities:
    """Side effects of `DoubtfulOrder`, bound to one asyncpg pool per worker process."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        """Hold the worker's pool."""
        self._pool = pool
        self._calendar = RoutingCalendar(pool)

    @activity.defn(name="record_inquiry")
    async def record_inquiry(self, record: InquiryRecord) -> None:
        """Write the inquiry's projection, new timeline entries and outbox items in one transaction.

        A retry, or a record older than the one stored (by `revision`), writes nothing new: the
        projection only moves forward and every row has a natural key (run_id, seq).
        """
        calendar = await self._calendar.get() if record.outbox else None
        async with transaction(
            self._pool, "record_inquiry transaction", inquiry_no=record.inquiry.inquiry_no, revision=record.revision
        ) as conn:
            await upsert_inquiry(conn, record)
            await write_timeline(
                conn,
                table="inquiry_timeline",
                run_id=record.run_id,
                number=record.inquiry.inquiry_no,
                entries=record.entries,
            )
            await write_outbox(
                conn,
                run_id=record.run_id,
                order_no=record.inquiry.outbox_order_no,
                items=record.outbox,
                calendar=calendar,
                fallback_org=SUPERVISION,
            )
        log.info(
            "inquiry.recorded",
            inquiry_no=record.inquiry.inquiry_no,
            run_id=record.run_id,
            revision=record.revision,
            phase=record.status.phase.value,
            entries=len(record.entries),
            outbox=len(record.outbox),
        )
