"""Activities of a doubtful order (Article 7.3): projection, timeline and outboxes in PostgreSQL."""

from __future__ import annotations

from typing import Any

import asyncpg
import structlog
from temporalio import activity

from activities.store.outbox_writer import RoutingCalendar, write_outbox, write_timeline
from domain.inquiry import SUPERVISION, InquiryRecord

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
        async with self._pool.acquire() as conn, conn.transaction():
            await self._upsert_projection(conn, record)
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

    @staticmethod
    async def _upsert_projection(conn: Any, record: InquiryRecord) -> None:
        n, s = record.inquiry, record.status
        await conn.execute(
            """
            INSERT INTO inquiries (run_id, workflow_id, inquiry_no, order_no, unit, asked_at, question,
                rulebook, phase, reply_due, answered_at, flags, status, revision)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
            ON CONFLICT (run_id) DO UPDATE SET
                unit = EXCLUDED.unit, phase = EXCLUDED.phase, reply_due = EXCLUDED.reply_due,
                answered_at = EXCLUDED.answered_at, flags = EXCLUDED.flags, status = EXCLUDED.status,
                revision = EXCLUDED.revision, updated_at = now()
            WHERE inquiries.revision < EXCLUDED.revision
            """,
            record.run_id, record.workflow_id, n.inquiry_no, n.order_no, s.unit, n.asked_at, n.question,
            s.rulebook, s.phase.value, s.deadline.due, s.answered_at, s.flags, s.model_dump(mode="json"),
            record.revision,
        )  # fmt: skip
