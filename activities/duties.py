"""The periodic duties of Articles 4.6-4.7, 5.7, 6.7, 11 and 13 as activities: training material
reminders and misses, holiday on-duty roster reminders, the monthly report. Each duty is idempotent
per period. Their tables: `activities.store.duties`."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import asyncpg
import structlog
from temporalio import activity

from activities.reports.bulletin import render_html, render_markdown
from activities.store import calendar_store
from activities.store.duties import (
    claim_run,
    missing_roster,
    missing_training,
    month_start,
    notify,
    record_training_missed,
    store_bulletin,
)
from activities.store.stats import bulletin_data
from domain.assessment import Period
from domain.calendar import BusinessCalendar
from domain.records import DutyDay, DutyOutcome, MonthlyReportRequest, MonthlyReportResult

log = structlog.get_logger(__name__)

#: How many days before a break the supervising department hears of an incomplete roster.
ROSTER_NOTICE_DAYS = 10


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
            missing = await missing_training(conn, month)
            if not await claim_run(conn, "training_reminder", period, {"orgs": missing}):
                return DutyOutcome(duty="training_reminder", period=period, skipped="already sent")
            now = datetime.now(UTC)
            for i, org in enumerate(missing):
                await notify(
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
            missing = await missing_training(conn, month)
            if not await claim_run(conn, "training_missed", period, {"orgs": missing}):
                return DutyOutcome(duty="training_missed", period=period, skipped="already recorded")
            await record_training_missed(conn, month, missing)
            if missing:
                await notify(
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
                if not missing or not await claim_run(
                    conn, "roster_reminder", b.start.isoformat(), {"missing": missing}
                ):
                    continue
                await notify(
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
        month = Period.month(request.month.year, request.month.month)
        data = await bulletin_data(self._pool, month, now=datetime.now(UTC))
        html, markdown = render_html(data), render_markdown(data)
        orders, ranked = data.current.received, len(data.assessment.scores)
        async with self._pool.acquire() as conn:
            await store_bulletin(conn, request.month, html=html, markdown=markdown, orders=orders, ranked=ranked)
        log.info("duty.monthly_report", month=request.month.isoformat()[:7], orders=orders, ranked=ranked)
        return MonthlyReportResult(month=request.month, orders=orders, ranked=ranked, stored=True)
