"""The duties' tables: knowledge-base submissions, training misses, the holiday on-duty roster, the
runs of each duty (one per period), the duties' notifications and the stored bulletins."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Final

import asyncpg

from domain.calendar import HolidayBreak

#: What a knowledge-base submission may be (Article 11).
KB_KINDS: Final = ("regulation", "realtime", "hot_topic", "training")

#: Who must have an on-duty contact for every holiday break (Articles 4.7, 5.7, 6.7).
ROSTER_ORGS: Final = ("dept-hotline", "center", "utilities")


def month_start(d: date) -> date:
    """The first day of ``d``'s month."""
    return d.replace(day=1)


async def handling_orgs(conn: Any) -> list[str]:
    """Every active org that handles orders (and so owes training material), by id."""
    rows = await conn.fetch(
        """SELECT id FROM organisations WHERE active AND
               (kind IN ('division', 'commission_unit', 'district_commission') OR id = 'utilities')
           ORDER BY id"""
    )
    return [r["id"] for r in rows]


async def missing_training(conn: Any, month: date) -> list[str]:
    """The handling orgs without training material for ``month``."""
    orgs = await handling_orgs(conn)
    have = {
        r["org"]
        for r in await conn.fetch(
            "SELECT DISTINCT org FROM kb_submissions WHERE kind = 'training' AND month = $1", month
        )
    }
    return [o for o in orgs if o not in have]


async def record_training_missed(conn: Any, month: date, orgs: list[str]) -> None:
    """Record that ``orgs`` submitted no training material for ``month`` (once per org and month)."""
    await conn.executemany(
        "INSERT INTO training_missed (month, org) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        [(month, org) for org in orgs],
    )


async def claim_run(conn: Any, duty: str, period: str, detail: dict[str, Any]) -> bool:
    """Claim the run of ``duty`` for ``period``; False when it already ran."""
    done = await conn.fetchval(
        "INSERT INTO duty_runs (duty, period, detail) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING 1",
        duty,
        period,
        detail,  # the pool's jsonb codec encodes it (activities.store.db.create_pool)
    )
    return bool(done == 1)


async def notify(conn: Any, run_id: str, seq: int, org: str, kind: str, body: str, at: datetime) -> None:
    """A duty's notification to ``org`` (idempotent per run_id, seq and route)."""
    await conn.execute(
        """INSERT INTO notification_outbox (run_id, seq, route, order_no, recipient, kind, body, event_at)
           VALUES ($1, $2, $3, '-', $3, $4, $5, $6) ON CONFLICT (run_id, seq, route) DO NOTHING""",
        run_id,
        seq,
        org,
        kind,
        body,
        at,
    )


async def store_bulletin(conn: Any, month: date, *, html: str, markdown: str, orders: int, ranked: int) -> None:
    """Store (or replace) the month's bulletin."""
    await conn.execute(
        """INSERT INTO bulletins (month, html, markdown, orders, ranked) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (month) DO UPDATE SET html = EXCLUDED.html, markdown = EXCLUDED.markdown,
               orders = EXCLUDED.orders, ranked = EXCLUDED.ranked, generated_at = now()""",
        month, html, markdown, orders, ranked,
    )  # fmt: skip


async def missing_roster(conn: Any, brk: HolidayBreak) -> list[str]:
    """The orgs of `ROSTER_ORGS` without an on-duty contact for ``brk``."""
    have = {r["org"] for r in await conn.fetch("SELECT org FROM duty_roster WHERE break_start = $1", brk.start)}
    return [o for o in ROSTER_ORGS if o not in have]


async def roster_of(conn: Any, brk: HolidayBreak) -> list[tuple[str, str]]:
    """(org, contact name) of each on-duty contact entered for ``brk`` (never the phone), by org."""
    rows = await conn.fetch("SELECT org, contact_name FROM duty_roster WHERE break_start = $1 ORDER BY org", brk.start)
    return [(r["org"], r["contact_name"]) for r in rows]


async def submit_kb(pool: Any, org: str, *, kind: str, title: str, content: str, by: str, month: date) -> int:
    """Store a knowledge-base submission; returns its id."""
    if kind not in KB_KINDS:
        raise ValueError(f"unknown kind {kind!r}; allowed: {', '.join(KB_KINDS)}")
    async with pool.acquire() as conn:
        if not await conn.fetchval("SELECT 1 FROM organisations WHERE id = $1", org):
            raise ValueError(f"unknown org {org!r}; see `hotline orgs`")
        value: int = await conn.fetchval(
            """INSERT INTO kb_submissions (org, kind, title, content, month, submitted_by)
               VALUES ($1, $2, $3, $4, $5, $6) RETURNING id""",
            org, kind, title, content, month_start(month), by,
        )  # fmt: skip
    return value


async def list_kb(
    pool: Any, *, org: str | None = None, kind: str | None = None, month: date | None = None, limit: int = 500
) -> list[asyncpg.Record]:
    """Knowledge-base submissions (without their content), newest first, filtered by what is given."""
    rows: list[asyncpg.Record] = await pool.fetch(
        """SELECT id, org, kind, title, month, submitted_by, submitted_at FROM kb_submissions
           WHERE ($1::text IS NULL OR org = $1) AND ($2::text IS NULL OR kind = $2)
             AND ($3::date IS NULL OR month = $3) ORDER BY submitted_at DESC LIMIT $4""",
        org, kind, month, limit,
    )  # fmt: skip
    return rows


async def set_roster(pool: Any, brk: HolidayBreak, org: str, *, name: str, phone: str, by: str) -> None:
    """Enter (or replace) ``org``'s on-duty contact for a holiday break."""
    async with pool.acquire() as conn:
        await conn.execute(
            """INSERT INTO duty_roster (break_start, break_end, org, contact_name, contact_phone, entered_by)
               VALUES ($1, $2, $3, $4, $5, $6)
               ON CONFLICT (break_start, org) DO UPDATE SET contact_name = EXCLUDED.contact_name,
                   contact_phone = EXCLUDED.contact_phone, entered_by = EXCLUDED.entered_by, entered_at = now()""",
            brk.start, brk.end, org, name, phone, by,
        )  # fmt: skip
