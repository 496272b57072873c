"""The duties' tables: knowledge-base submissions and their reports to the city hotline, training
misses, the holiday on-duty roster, the runs of each duty (one per period), the duties'
notifications and the stored bulletins."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Final

import asyncpg
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from domain.calendar import HolidayBreak
from domain.contract import HotlineSubmission

#: What a knowledge-base submission may be (Article 11).
KB_KINDS: Final = ("regulation", "realtime", "hot_topic", "training")

#: The run id of an entry's message in the city-hotline outbox (``kb-<id>``, seq 0): its once-only key.
KB_RUN_PREFIX: Final = "kb-"

# Any constant works: it only has to be the same in every process that stores submissions.
_KB_LOCK: Final = 0x4B425355  # "KBSU"

#: One message to the city hotline per entry not reported yet (all, or the one of $1): 报送,
#: Articles 4.6, 5.4, 6.6, 11. ``011_knowledge_base_hotline.sql`` ran the same for older entries.
_REPORT_SQL: Final = f"""
INSERT INTO hotline_outbox (run_id, seq, order_no, kind, body, payload, event_at)
SELECT '{KB_RUN_PREFIX}' || k.id, 0, '-',
       CASE WHEN k.kind = 'training' THEN '{HotlineSubmission.TRAINING_MATERIAL.value}'
            ELSE '{HotlineSubmission.KNOWLEDGE_BASE.value}' END,
       CASE WHEN k.kind = 'training'
            THEN 'training material for ' || to_char(k.month, 'YYYY-MM') || ' from ' || k.org
                 || ' (' || k.submitted_by || '): ' || k.title
            ELSE 'knowledge base entry (' || k.kind || ') from ' || k.org
                 || ' (' || k.submitted_by || '): ' || k.title
       END,
       jsonb_build_object(
           'entry', k.id,
           'category', k.kind,
           'org', k.org,
           'org_name', o.name_zh,
           'reported_by', CASE WHEN k.org = 'utilities' THEN 'utilities' ELSE 'dept-hotline' END,
           'submitted_by', k.submitted_by,
           'submitted_at', to_char(k.submitted_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD"T"HH24:MI:SS"+08:00"'),
           'title', k.title,
           'content', k.content,
           'month', CASE WHEN k.kind = 'training' THEN to_char(k.month, 'YYYY-MM') END
       ),
       k.submitted_at
FROM kb_submissions k JOIN organisations o ON o.id = k.org
WHERE $1::bigint IS NULL OR k.id = $1
ORDER BY k.id
ON CONFLICT (run_id, seq) DO NOTHING
RETURNING id"""


class Submitted(BaseModel):
    """What `submit_kb` did: the entry, and whether this call stored it."""

    model_config = ConfigDict(frozen=True)

    id: int = Field(description="The entry's id (`kb_submissions.id`).")
    created: bool = Field(description="False: the same entry was submitted before; nothing was stored or sent.")
    submitted_by: str = Field(description="Who submitted it (first).")
    submitted_at: AwareDatetime = Field(description="When it was first stored.")
    message_id: int = Field(description="Its message in the city-hotline outbox (`hotline outbox claim hotline`).")


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


async def report_to_hotline(conn: Any, entry: int | None = None) -> list[int]:
    """Write the city-hotline message of ``entry`` (of every entry when None) if it has none yet.

    Each entry has exactly one message, keyed ``kb-<id>``/0, so a repeat writes nothing.

    Returns:
        The ids of the messages written now.
    """
    rows = await conn.fetch(_REPORT_SQL, entry)
    return [r["id"] for r in rows]


async def submit_kb(pool: Any, org: str, *, kind: str, title: str, content: str, by: str, month: date) -> Submitted:
    """Store a knowledge-base entry and its message to the city hotline, in one transaction (报送).

    The same entry submitted again (same org, kind, title and content; for training material the
    same month too) is the entry stored before: nothing is stored or sent twice.

    Raises:
        ValueError: an unknown kind or org.
    """
    if kind not in KB_KINDS:
        raise ValueError(f"unknown kind {kind!r}; allowed: {', '.join(KB_KINDS)}")
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _KB_LOCK)
        if not await conn.fetchval("SELECT 1 FROM organisations WHERE id = $1", org):
            raise ValueError(f"unknown org {org!r}; see `hotline orgs`")
        row = await conn.fetchrow(
            """SELECT id, submitted_by, submitted_at, false AS created FROM kb_submissions
               WHERE org = $1 AND kind = $2 AND title = $3 AND content = $4 AND (kind <> 'training' OR month = $5)
               ORDER BY id LIMIT 1""",
            org, kind, title, content, month_start(month),
        )  # fmt: skip
        if row is None:
            row = await conn.fetchrow(
                """INSERT INTO kb_submissions (org, kind, title, content, month, submitted_by)
                   VALUES ($1, $2, $3, $4, $5, $6) RETURNING id, submitted_by, submitted_at, true AS created""",
                org, kind, title, content, month_start(month), by,
            )  # fmt: skip
        await report_to_hotline(conn, row["id"])
        message_id = await conn.fetchval(
            "SELECT id FROM hotline_outbox WHERE run_id = $1 AND seq = 0", f"{KB_RUN_PREFIX}{row['id']}"
        )
    return Submitted(**dict(row), message_id=message_id)


async def list_kb(
    pool: Any, *, org: str | None = None, kind: str | None = None, month: date | None = None, limit: int = 500
) -> list[asyncpg.Record]:
    """Knowledge-base submissions (without their content), newest first, filtered by what is given.

    ``reported``: where its message to the city hotline is (``pending``, ``claimed``, ``acked``).
    """
    rows: list[asyncpg.Record] = await pool.fetch(
        f"""SELECT k.id, k.org, k.kind, k.title, k.month, k.submitted_by, k.submitted_at,
                   CASE WHEN h.acked_at IS NOT NULL THEN 'acked'
                        WHEN h.claimed_until >= now() THEN 'claimed'
                        WHEN h.id IS NOT NULL THEN 'pending' END AS reported
            FROM kb_submissions k
            LEFT JOIN hotline_outbox h ON h.run_id = '{KB_RUN_PREFIX}' || k.id AND h.seq = 0
            WHERE ($1::text IS NULL OR k.org = $1) AND ($2::text IS NULL OR k.kind = $2)
              AND ($3::date IS NULL OR k.month = $3) ORDER BY k.submitted_at DESC, k.id DESC LIMIT $4""",
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
