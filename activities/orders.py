"""Activities of an order: the projection and its timeline in PostgreSQL."""

from __future__ import annotations

import asyncpg
import structlog
from temporalio import activity

from domain.records import OrderRecord

log = structlog.get_logger(__name__)


class OrderActivities:
    """Side effects of `WorkOrder`, bound to one asyncpg pool per worker process."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        """Hold the worker's pool."""
        self._pool = pool

    @activity.defn(name="record_order")
    async def record_order(self, record: OrderRecord) -> None:
        """Upsert the order's projection and append its new timeline entries, idempotently.

        A retry, or a record older than the one stored (by `revision`), writes nothing new:
        the projection only moves forward and timeline rows are keyed by (run_id, seq).
        """
        o, s = record.order, record.status
        due = {k: d.due for k, d in s.deadlines.items()}
        async with self._pool.acquire() as conn, conn.transaction():
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
                o.location.address, o.description, o.demands, due.get("receipt"),
                due.get("completion"), s.flags, record.units, s.model_dump(mode="json"),
                record.revision,
            )  # fmt: skip
            if record.entries:
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
                            o.order_no,
                            n.entry.at,
                            n.entry.kind,
                            n.entry.actor.model_dump(mode="json") if n.entry.actor else None,
                            n.entry.detail,
                        )
                        for n in record.entries
                    ],
                )
        log.info(
            "order.recorded",
            order_no=o.order_no,
            run_id=record.run_id,
            revision=record.revision,
            phase=s.phase.value,
            entries=len(record.entries),
        )
