"""Activities of an order: projection, timeline, outboxes and archive in PostgreSQL; its calendar."""

from __future__ import annotations

from typing import Any

import asyncpg
import structlog
from temporalio import activity

from activities.store import calendar_store
from activities.store.outbox_writer import RoutingCalendar, write_outbox, write_timeline
from domain.order import SUPERVISOR
from domain.records import CalendarRequest, CalendarYears, OrderRecord

log = structlog.get_logger(__name__)


class OrderActivities:
    """Side effects of `WorkOrder`, bound to one asyncpg pool per worker process."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        """Hold the worker's pool."""
        self._pool = pool
        self._calendar = RoutingCalendar(pool)

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
        calendar = await self._calendar.get() if record.outbox else None
        async with self._pool.acquire() as conn, conn.transaction():
            await self._upsert_projection(conn, record)
            await write_timeline(
                conn, table="order_timeline", run_id=record.run_id, number=record.order.order_no, entries=record.entries
            )
            await write_outbox(
                conn,
                run_id=record.run_id,
                order_no=record.order.order_no,
                items=record.outbox,
                calendar=calendar,
                fallback_org=SUPERVISOR[record.status.platform],
            )
            if record.archive:
                await self._archive(conn, record)
        log_.info(
            "order.recorded",
            phase=record.status.phase.value,
            entries=len(record.entries),
            outbox=len(record.outbox),
            archived=record.archive,
        )

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
