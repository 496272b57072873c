"""An order's rows: its projection (`orders`) and, once closed, its archive (`order_archive`).

The timeline and the outboxes are written by `activities.store.outbox_writer`; `record_order`
(`activities/orders.py`) writes all of them in one transaction.
"""

from __future__ import annotations

from typing import Any

from domain.calendar import SHANGHAI
from domain.models import Actor, TimelineEntry
from domain.records import OrderRecord


async def upsert_order(conn: Any, record: OrderRecord) -> None:
    """Write the order's projection (`orders`); an older revision than the stored one changes nothing."""
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


async def archive_order(conn: Any, record: OrderRecord) -> None:
    """Archive the closed order (`order_archive`), once per order.

    Records carry the status without its timeline (a record's size must not grow with the order's
    age); the archive takes the whole timeline from the rows written so far, this record's included
    (call it after `write_timeline` in the same transaction).
    """
    o, s = record.order, record.status
    assert s.outcome is not None
    assert s.closed_at is not None
    timeline = await read_timeline(conn, record.run_id)
    full = s.model_copy(update={"timeline": timeline})
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
        [e.model_dump(mode="json") for e in timeline], full.model_dump(mode="json"),
    )  # fmt: skip


async def read_timeline(conn: Any, run_id: str) -> list[TimelineEntry]:
    """The order's timeline as written, in order (instants in Asia/Shanghai, as the order shows them)."""
    rows = await conn.fetch("SELECT at, kind, actor, detail FROM order_timeline WHERE run_id = $1 ORDER BY seq", run_id)
    return [
        TimelineEntry(
            at=r["at"].astimezone(SHANGHAI),
            kind=r["kind"],
            actor=Actor.model_validate(r["actor"]) if r["actor"] else None,
            detail=r["detail"],
        )
        for r in rows
    ]
