"""Writing what a workflow hands over besides its projection: timeline entries, and outbox items
(notifications to orgs with holiday on-duty copies, messages to the city hotline). Shared by the
order and the doubtful-order activities."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import asyncpg

from activities.store import calendar_store
from domain.calendar import SHANGHAI, BusinessCalendar
from domain.machine import OutboxItem
from domain.records import NumberedEntry

#: How long a loaded calendar is reused for routing notifications to on-duty contacts.
CALENDAR_TTL_SECONDS = 60.0


class RoutingCalendar:
    """The business calendar for on-duty routing, reloaded from the database at most once a minute."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        """Hold the pool the calendar is read from."""
        self._pool = pool
        self._loaded: tuple[float, BusinessCalendar] | None = None

    async def get(self) -> BusinessCalendar:
        """The calendar, fresh within `CALENDAR_TTL_SECONDS`."""
        now = time.monotonic()
        if self._loaded is None or now - self._loaded[0] > CALENDAR_TTL_SECONDS:
            self._loaded = (now, await calendar_store.load_calendar(self._pool))
        return self._loaded[1]


#: Timeline tables and the column naming their record (fixed names, never input).
TIMELINES = {"order_timeline": "order_no", "inquiry_timeline": "inquiry_no"}


async def write_timeline(conn: Any, *, table: str, run_id: str, number: str, entries: Sequence[NumberedEntry]) -> None:
    """Insert timeline entries keyed by (run, seq); a retry inserts nothing twice."""
    if not entries:
        return
    column = TIMELINES[table]
    await conn.executemany(
        f"""
        INSERT INTO {table} (run_id, seq, {column}, at, kind, actor, detail)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (run_id, seq) DO NOTHING
        """,
        [
            (
                run_id,
                n.seq,
                number,
                n.entry.at,
                n.entry.kind,
                n.entry.actor.model_dump(mode="json") if n.entry.actor else None,
                n.entry.detail,
            )
            for n in entries
        ],
    )


#: The notifications that also reach a holiday break's on-duty contact: every warning, escalation and
#: reminder of a deadline, and the close of an unanswered appeal.
ON_DUTY_KINDS = ("_warning", "_overdue", "_escalation", "_reminder", "_unanswered")


async def write_outbox(
    conn: Any,
    *,
    run_id: str,
    order_no: str,
    items: Sequence[OutboxItem],
    calendar: BusinessCalendar | None,
    fallback_org: str,
) -> None:
    """Insert ``items`` keyed by (run, seq[, route]); a retry inserts nothing twice.

    A warning or escalation raised during a holiday break is also routed to the break's on-duty
    contact (Articles 4.7, 5.7, 6.7): the recipient org's own when the roster has one, else
    ``fallback_org``'s (the supervising department).
    """
    for item in items:
        if item.channel == "hotline":
            await conn.execute(
                """
                INSERT INTO hotline_outbox (run_id, seq, order_no, kind, body, payload, event_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7)
                ON CONFLICT (run_id, seq) DO NOTHING
                """,
                run_id, item.seq, order_no, item.kind, item.text, item.payload, item.at,
            )  # fmt: skip
            continue
        await _notify(conn, run_id, order_no, item, route=item.recipient)
        duty = await _on_duty(conn, calendar, item, fallback_org)
        if duty is not None:
            await _notify(conn, run_id, order_no, item, route=f"duty:{item.recipient}", duty=duty)


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


async def _on_duty(conn: Any, calendar: BusinessCalendar | None, item: OutboxItem, fallback_org: str) -> Any:
    if calendar is None or not item.kind.endswith(ON_DUTY_KINDS):
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
        brk.start, [item.recipient, fallback_org], item.recipient,
    )  # fmt: skip
