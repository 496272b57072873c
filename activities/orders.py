"""Activities of an order: projection, timeline, outboxes and archive in PostgreSQL; its calendar."""

from __future__ import annotations

import time
from typing import Any

import asyncpg
import structlog
from temporalio import activity

from activities import calendar_store
from domain.calendar import SHANGHAI, BusinessCalendar
from domain.order import SUPERVISOR, OutboxItem
from domain.records import CalendarRequest, CalendarYears, OrderRecord

log = structlog.get_logger(__name__)

#: How long a loaded calendar is reused for routing notifications to on-duty contacts.
CALENDAR_TTL_SECONDS = 60.0


class OrderActivities:
    """Side effects of `WorkOrder`, bound to one asyncpg pool per worker process."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        """Hold the worker's pool."""
        self._pool = pool
        self._calendar: tuple[float, BusinessCalendar] | None = None

    @activity.defn(name="load_calendar_years")
    async def load_calendar_years(self, request: CalendarRequest) -> CalendarYears:
        """The current version of each asked-for year that the database knows (Article 8.1)."""
        calendar = await calendar_store.load_calendar(self._pool)
        years = [y for y in (calendar.year(n) for n in request.years) if y is not None]
        return CalendarYears(years=years)

    @activity.defn(name="record_order")
    async def record_order(self, record: OrderRecord) -> None:
        """Write the order's projection, new timeline entries and outbox items; archive at close.

        One transaction. A retry, or a record older than the one stored (by `revision`), writes
        nothing new: the projection only moves forward and every row has a natural key.
        """
        log_ = log.bind(order_no=record.order.order_no, run_id=record.run_id, revision=record.revision)
        calendar = await self._routing_calendar() if record.outbox else None
        async with self._pool.acquire() as conn, conn.transaction():
            await self._upsert_projection(conn, record)
            await self._insert_timeline(conn, record)
            await self._insert_outbox(conn, record, calendar)
            if record.archive:
                await self._archive(conn, record)
        log_.info(
            "order.recorded",
            phase=record.status.phase.value,
            entries=len(record.entries),
            outbox=len(record.outbox),
            archived=record.archive,
        )

    async def _routing_calendar(self) -> BusinessCalendar:
        now = time.monotonic()
        if self._calendar is None or now - self._calendar[0] > CALENDAR_TTL_SECONDS:
            self._calendar = (now, await calendar_store.load_calendar(self._pool))
        return self._calendar[1]

    @staticmethod
    async def _upsert_projection(conn: Any, record: OrderRecord) -> None:
        o, s = record.order, record.status
        key = f"rehandling_{s.rehandling_round}" if s.rehandling_round else "completion"
        receipt, completion = s.deadlines.get("receipt"), s.deadlines.get(key)
        await conn.execute(
            """
            INSERT INTO orders (run_id, workflow_id, order_no, tier, category, platform,
                district, subject, dispatched_at, rulebook, phase, outcome, confidential,
                reporter_name, reporter_phone, address, description, demands, receipt_due,
                completion_due, flags, units, status, revision)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                $17, $18, $19, $20, $21, $22, $23, $24)
            ON CONFLICT (run_id) DO UPDATE SET
                phase = EXCLUDED.phase, outcome = EXCLUDED.outcome, rulebook = EXCLUDED.rulebook,
                receipt_due = EXCLUDED.receipt_due, completion_due = EXCLUDED.completion_due,
                flags = EXCLUDED.flags, units = EXCLUDED.units, status = EXCLUDED.status,
                revision = EXCLUDED.revision, updated_at = now()
            WHERE orders.revision < EXCLUDED.revision
            """,
            record.run_id, record.workflow_id, o.order_no, o.tier.value, o.category.value,
            s.platform.value, o.location.district, o.subject, o.dispatched_at,
            s.rulebook, s.phase.value, s.outcome.value if s.outcome else None,
            o.reporter.confidential, o.reporter.name, o.reporter.phone,
            o.location.address, o.description, o.demands,
            receipt.due if receipt else None, completion.due if completion else None,
            s.flags, record.units, s.model_dump(mode="json"), record.revision,
        )  # fmt: skip

    @staticmethod
    async def _insert_timeline(conn: Any, record: OrderRecord) -> None:
        if not record.entries:
            return
        await conn.executemany(
            """
            INSERT INTO order_timeline (run_id, seq, order_no, at, kind, actor, detail)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (run_id, seq) DO NOTHING
            """,
            [
                (
                    record.run_id,
                    n.seq,
                    record.order.order_no,
                    n.entry.at,
                    n.entry.kind,
                    n.entry.actor.model_dump(mode="json") if n.entry.actor else None,
                    n.entry.detail,
                )
                for n in record.entries
            ],
        )

    async def _insert_outbox(self, conn: Any, record: OrderRecord, calendar: BusinessCalendar | None) -> None:
        order_no = record.order.order_no
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
            duty = await self._on_duty(conn, calendar, item, record.status.platform.value)
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
    async def _on_duty(conn: Any, calendar: BusinessCalendar | None, item: OutboxItem, platform: str) -> Any:
        """The on-duty contact for a warning or escalation raised during a holiday break (Art. 4.7).

        The recipient org's own contact when the roster has one, else its platform's supervising
        department's.
        """
        if calendar is None or not item.kind.endswith(("_warning", "_overdue")):
            return None
        brk = calendar.break_containing(item.at.astimezone(SHANGHAI).date())
        if brk is None:
            return None
        from domain.models import Platform

        fallback = SUPERVISOR[Platform(platform)]
        return await conn.fetchrow(
            """
            SELECT break_start, contact_name, contact_phone FROM duty_roster
            WHERE break_start = $1 AND org = ANY($2::text[])
            ORDER BY org = $3 DESC LIMIT 1
            """,
            brk.start, [item.recipient, fallback], item.recipient,
        )  # fmt: skip

    @staticmethod
    async def _archive(conn: Any, record: OrderRecord) -> None:
        o, s = record.order, record.status
        assert s.outcome is not None
        assert s.closed_at is not None
        await conn.execute(
            """
            INSERT INTO order_archive (run_id, workflow_id, order_no, tier, category, platform,
                district, dispatched_at, closed_at, outcome, rulebook, order_data, deadlines,
                timeline, status)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
            ON CONFLICT (run_id) DO NOTHING
            """,
            record.run_id, record.workflow_id, o.order_no, o.tier.value, o.category.value,
            s.platform.value, o.location.district, o.dispatched_at, s.closed_at, s.outcome.value,
            s.rulebook, o.model_dump(mode="json"),
            {k: d.model_dump(mode="json") for k, d in s.deadlines.items()},
            [e.model_dump(mode="json") for e in s.timeline], s.model_dump(mode="json"),
        )  # fmt: skip
