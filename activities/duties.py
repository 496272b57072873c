"""The periodic duties of Articles 4.6-4.7, 5.7, 6.7 and 11: knowledge base, training material
reminders and misses, holiday on-duty roster reminders. Each duty is idempotent per period."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import structlog
from temporalio import activity

from activities import calendar_store
from domain.calendar import BusinessCalendar, HolidayBreak
from domain.records import DutyDay, DutyOutcome, MonthlyReportRequest, MonthlyReportResult

log = structlog.get_logger(__name__)

KB_KINDS = ("regulation", "realtime", "hot_topic", "training")

#: Who must have an on-duty contact for every holiday break (Articles 4.7, 5.7, 6.7).
ROSTER_ORGS = ("dept-hotline", "center", "utilities")

#: How many days before a break the supervising department hears of an incomplete roster.
ROSTER_NOTICE_DAYS = 10


def month_start(d: date) -> date:
    """The first day of ``d``'s month."""
    return d.replace(day=1)


def _last_day(d: date) -> date:
    nxt = (d.replace(day=28) + timedelta(days=4)).replace(day=1)
    return nxt - timedelta(days=1)


def training_reminder_day(calendar: BusinessCalendar, month: date, working_days_before: int) -> date:
    """The working day ``working_days_before`` working days before the month's last working day."""
    last = _last_day(month)
    while not calendar.is_working_day(last):
        last -= timedelta(days=1)
    day = last
    for _ in range(working_days_before):
        day -= timedelta(days=1)
        while not calendar.is_working_day(day):
            day -= timedelta(days=1)
    return day


async def _handling_orgs(conn: Any) -> list[str]:
    rows = await conn.fetch(
        """SELECT id FROM organisations WHERE active AND
               (kind IN ('division', 'commission_unit', 'district_commission') OR id = 'utilities')
           ORDER BY id"""
    )
    return [r["id"] for r in rows]


async def _missing_training(conn: Any, month: date) -> list[str]:
    orgs = await _handling_orgs(conn)
    have = {
        r["org"]
        for r in await conn.fetch(
            "SELECT DISTINCT org FROM kb_submissions WHERE kind = 'training' AND month = $1", month
        )
    }
    return [o for o in orgs if o not in have]


async def _once(conn: Any, duty: str, period: str, detail: dict[str, Any]) -> bool:
    """Claim the run of ``duty`` for ``period``; False when it already ran."""
    done = await conn.fetchval(
        "INSERT INTO duty_runs (duty, period, detail) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING 1",
        duty,
        period,
        detail,  # the pool's jsonb codec encodes it (activities.db.create_pool)
    )
    return bool(done == 1)


async def _notify(conn: Any, run_id: str, seq: int, org: str, kind: str, body: str, at: datetime) -> None:
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


class DutyActivities:
    """The duties' side effects, on the worker's pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        """Hold the worker's pool."""
        self._pool = pool

    @activity.defn(name="training_reminders")
    async def training_reminders(self, day: DutyDay) -> DutyOutcome:
        """Remind every unit without this month's training material (Article 11), on the reminder day."""
        calendar = await calendar_store.load_calendar(self._pool)
        month = month_start(day.day)
        when = training_reminder_day(calendar, month, day.training_reminder_working_days)
        period = month.isoformat()[:7]
        if day.day != when:
            return DutyOutcome(duty="training_reminder", period=period, skipped=f"the reminder day is {when}")
        async with self._pool.acquire() as conn, conn.transaction():
            missing = await _missing_training(conn, month)
            if not await _once(conn, "training_reminder", period, {"orgs": missing}):
                return DutyOutcome(duty="training_reminder", period=period, skipped="already sent")
            now = datetime.now(UTC)
            for i, org in enumerate(missing):
                await _notify(
                    conn, f"duty-training-{period}", i, org, "training_reminder",
                    f"training material for {period} has not been submitted; due before the month ends "
                    f"(Article 11): hotline kb submit {org} --kind training …", now,
                )  # fmt: skip
        log.info("duty.training_reminders", period=period, orgs=len(missing))
        return DutyOutcome(duty="training_reminder", period=period, orgs=missing)

    @activity.defn(name="record_training_missed")
    async def record_training_missed(self, day: DutyDay) -> DutyOutcome:
        """On the first of a month, record who submitted no training material last month."""
        if day.day.day != 1:
            return DutyOutcome(duty="training_missed", period="", skipped="runs on the first of the month")
        month = month_start(day.day - timedelta(days=1))
        period = month.isoformat()[:7]
        async with self._pool.acquire() as conn, conn.transaction():
            missing = await _missing_training(conn, month)
            if not await _once(conn, "training_missed", period, {"orgs": missing}):
                return DutyOutcome(duty="training_missed", period=period, skipped="already recorded")
            await conn.executemany(
                "INSERT INTO training_missed (month, org) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                [(month, org) for org in missing],
            )
            if missing:
                await _notify(
                    conn, f"duty-training-missed-{period}", 0, "dept-hotline", "training_missed",
                    f"{len(missing)} unit(s) submitted no training material for {period}: {', '.join(missing)}",
                    datetime.now(UTC),
                )  # fmt: skip
        log.info("duty.training_missed", period=period, orgs=len(missing))
        return DutyOutcome(duty="training_missed", period=period, orgs=missing)

    @activity.defn(name="roster_reminders")
    async def roster_reminders(self, day: DutyDay) -> DutyOutcome:
        """Remind the supervising department of a break within 10 days whose roster is incomplete."""
        calendar = await calendar_store.load_calendar(self._pool)
        soon = [
            b
            for b in calendar.breaks_between(day.day, day.day + timedelta(days=ROSTER_NOTICE_DAYS))
            if b.start > day.day
        ]
        reminded: list[str] = []
        async with self._pool.acquire() as conn, conn.transaction():
            for b in soon:
                missing = await missing_roster(conn, b)
                if not missing or not await _once(conn, "roster_reminder", b.start.isoformat(), {"missing": missing}):
                    continue
                await _notify(
                    conn, f"duty-roster-{b.start.isoformat()}", 0, "dept-hotline", "roster_reminder",
                    f"the {b.days}-day {b.name} break starts {b.start}; no on-duty contact yet for "
                    f"{', '.join(missing)} (Articles 4.7, 5.7, 6.7): hotline duty set {b.start} ORG …",
                    datetime.now(UTC),
                )  # fmt: skip
                reminded.append(b.start.isoformat())
        return DutyOutcome(duty="roster_reminder", period=day.day.isoformat(), orgs=reminded)

    @activity.defn(name="monthly_report")
    async def monthly_report(self, request: MonthlyReportRequest) -> MonthlyReportResult:
        """Compute the month's assessment and bulletin and store it (Articles 4.4, 4.5, 6.5, 13).

        Re-running for the same month replaces the stored bulletin with a fresh one.
        """
        from activities.bulletin import render_html, render_markdown
        from activities.stats import bulletin_data
        from domain.assessment import Period

        month = Period.month(request.month.year, request.month.month)
        data = await bulletin_data(self._pool, month, now=datetime.now(UTC))
        html, markdown = render_html(data), render_markdown(data)
        orders, ranked = data.current.received, len(data.assessment.scores)
        async with self._pool.acquire() as conn:
            await conn.execute(
                """INSERT INTO bulletins (month, html, markdown, orders, ranked) VALUES ($1, $2, $3, $4, $5)
                   ON CONFLICT (month) DO UPDATE SET html = EXCLUDED.html, markdown = EXCLUDED.markdown,
                       orders = EXCLUDED.orders, ranked = EXCLUDED.ranked, generated_at = now()""",
                request.month, html, markdown, orders, ranked,
            )  # fmt: skip
        log.info("duty.monthly_report", month=request.month.isoformat()[:7], orders=orders, ranked=ranked)
        return MonthlyReportResult(month=request.month, orders=orders, ranked=ranked, stored=True)


async def missing_roster(conn: Any, brk: HolidayBreak) -> list[str]:
    """The orgs of `ROSTER_ORGS` without an on-duty contact for ``brk``."""
    have = {r["org"] for r in await conn.fetch("SELECT org FROM duty_roster WHERE break_start = $1", brk.start)}
    return [o for o in ROSTER_ORGS if o not in have]


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
