"""A doubtful order's row: its projection (`inquiries`).

Its timeline and outbox items are written by `activities.store.outbox_writer`; `record_inquiry`
(`activities/inquiries.py`) writes all of them in one transaction.
"""

from __future__ import annotations

from typing import Any

from domain.records import InquiryRecord


async def upsert_inquiry(conn: Any, record: InquiryRecord) -> None:
    """Write the inquiry's projection (`inquiries`); an older revision than the stored one changes nothing."""
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
