"""Activities of a doubtful order (Article 7.3): projection, timeline and outboxes in PostgreSQL."""

from __future__ import annotations

import time
from typing import Any

import asyncpg
import structlog
from temporalio import activity

from activities import calendar_store
from domain.calendar import SHANGHAI, BusinessCalendar
from domain.inquiry import SUPERVISION, InquiryRecord
from domain.order import OutboxItem

log = structlog.get_logger(__name__)

#: How long a loaded calendar is reused for routing notifications to on-duty contacts.
CALENDAR_TTL_SECONDS = 60.0


class InquiryActivities:
    """Side effects of `DoubtfulOrder`, bound to one asyncpg pool per worker process."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        """Hold the worker's pool."""
        self._pool = pool
        self._calendar: tuple[float, BusinessCalendar] | None = None

    @activity.defn(name="record_inquiry")
    async def record_inquiry(self, record: InquiryRecord) -> None:
        """Write the inquiry's projection, new timeline entries and outbox items in one transaction.

        A retry, or a record older than the one stored (by `revision`), writes nothing new: the
        projection only moves forward and every row has a natural key (run_id, seq).
        """
        calendar = await self._routing_calendar() if record.outbox else None
        async with self._pool.acquire() as conn, conn.transaction():
            await self._upsert_projection(conn, record)
            await self._insert_timeline(conn, record)
            await self._insert_outbox(conn, record, calendar)
        log.info(
            "inquiry.recorded",
            inquiry_no=record.inquiry.inquiry_no,
            run_id=record.run_id,
            revision=record.revision,
            phase=record.status.phase.value,
            entries=len(record.entries),
            outbox=len(record.outbox),
        )

    async def _routing_calendar(self) -> BusinessCalendar:
        now = time.monotonic()
        if self._calendar is None or now - self._calendar[0] > CALENDAR_TTL_SECONDS:
            self._calendar = (now, await calendar_store.load_calendar(self._pool))
        return self._calendar[1]

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

    @staticmethod
    async def _insert_timeline(conn: Any, record: InquiryRecord) -> None:
        if not record.entries:
            return
        await conn.executemany(
            """
            INSERT INTO inquiry_timeline (run_id, seq, inquiry_no, at, kind, actor, detail)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (run_id, seq) DO NOTHING
            """,
            [
                (
                    record.run_id,
                    n.seq,
                    record.inquiry.inquiry_no,
                    n.entry.at,
                    n.entry.kind,
                    n.entry.actor.model_dump(mode="json") if n.entry.actor else None,
                    n.entry.detail,
                )
                for n in record.entries
            ],
        )

    async def _insert_outbox(self, conn: Any, record: InquiryRecord, calendar: BusinessCalendar | None) -> None:
        order_no = record.inquiry.outbox_order_no
        for item in record.outbox:
            if item.channel == "hotline":
                await conn.execute(
                    """
                    INSERT INTO hotline_outbox (run_id, seq, order_no, kind, body, payload, event_at)
                    VALUES ($1, $2, $3, $4, $5, $6, $7)
                    ON CONFLICT (run_id, seq) DO NOTHING
                    """,
                    record.run_id, item.seq, order_no, item.kind, item.text, item.payload, item.at,
                )  # fmt: skip
                continue
            await self._notify(conn, record.run_id, order_no, item, route=item.recipient)
            duty = await self._on_duty(conn, calendar, item)
            if duty is not None:
                await self._notify(conn, record.run_id, order_no, item, route=f"duty:{item.recipient}", duty=duty)

    @staticmethod
    async def _notify(conn: Any, run_id: str, order_no: str, item: OutboxItem, *, route: str, duty: Any = None) -> None:
        await conn.execute(
            """
            INSERT INTO notification_outbox (run_id, seq, route, order_no, recipient, kind, body, due,
                event_at, duty_break, duty_contact, duty_phone)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
            ON CONFLICT (run_id, seq, route) DO NOTHING
            """,
            run_id, item.seq, route, order_no, item.recipient, item.kind, item.text, item.due, item.at,
            duty["break_start"] if duty else None, duty["contact_name"] if duty else None,
            duty["contact_phone"] if duty else None,
        )  # fmt: skip

    @staticmethod
    async def _on_duty(conn: Any, calendar: BusinessCalendar | None, item: OutboxItem) -> Any:
        """The on-duty contact for a warning or escalation raised during a holiday break (Art. 4.7).

        The recipient org's own contact when the roster has one, else `dept-hotline`'s.
        """
        if calendar is None or not item.kind.endswith(("_warning", "_overdue")):
            return None
        brk = calendar.break_containing(item.at.astimezone(SHANGHAI).date())
        if brk is None:
            return None
        return await conn.fetchrow(
            """
            SELECT break_start, contact_name, contact_phone FROM duty_roster
            WHERE break_start = $1 AND org = ANY($2::text[])
            ORDER BY org = $3 DESC LIMIT 1
            """,
            brk.start, [item.recipient, SUPERVISION], item.recipient,
        )  # fmt: skip
