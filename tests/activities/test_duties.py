"""The monthly and holiday duties: reminders go to exactly the units that missed, once."""

from __future__ import annotations

import asyncio
from datetime import date

import asyncpg
import pytest
from temporalio.client import Client

from activities.duties import DutyActivities, training_reminder_day
from activities.store import calendar_store
from activities.store.duties import missing_roster, set_roster, submit_kb
from domain.contract import DAILY_DUTIES, MONTHLY_REPORT
from domain.records import DutyDay
from tests.support.workflows import running_worker
from workers.schedules import DUTIES, ensure_schedules


async def _outbox(pool: asyncpg.Pool, run_id: str) -> list[str]:
    rows = await pool.fetch("SELECT recipient FROM notification_outbox WHERE run_id = $1 ORDER BY seq", run_id)
    return [r["recipient"] for r in rows]


class TestTraining:
    async def test_reminder_day_skips_the_mid_autumn_break(self, pool: asyncpg.Pool) -> None:
        """Three working days before 2026-09-30, across the 9/25-9/27 break, is 2026-09-24."""
        calendar = await calendar_store.load_calendar(pool)
        assert training_reminder_day(calendar, date(2026, 9, 1), 3) == date(2026, 9, 24)

    async def test_reminders_and_misses_go_to_exactly_the_units_that_missed(self, pool: asyncpg.Pool) -> None:
        """Units that submitted this month's training material hear nothing; the others are reminded
        once on the reminder day and recorded as missing on the first of the next month."""
        duties = DutyActivities(pool)
        handling = [
            r["id"]
            for r in await pool.fetch(
                "SELECT id FROM organisations WHERE kind IN ('division', 'commission_unit', 'district_commission') "
                "OR id = 'utilities' ORDER BY id"
            )
        ]
        submitted = {"dept-roads", "district-hexi"}
        for org in submitted:
            await submit_kb(
                pool, org, kind="training", title="九月培训", content="内容", by="t", month=date(2026, 9, 1)
            )
        await submit_kb(pool, "dept-law", kind="hot_topic", title="热点", content="x", by="t", month=date(2026, 9, 1))

        early = await duties.training_reminders(DutyDay(day=date(2026, 9, 23)))
        assert early.orgs == []
        assert "2026-09-24" in early.skipped
        sent = await duties.training_reminders(DutyDay(day=date(2026, 9, 24)))
        expected = [o for o in handling if o not in submitted]
        assert sent.orgs == expected
        assert "dept-law" in sent.orgs  # a hot topic is not training material
        assert await _outbox(pool, "duty-training-2026-09") == expected
        again = await duties.training_reminders(DutyDay(day=date(2026, 9, 24)))
        assert again.skipped == "already sent"
        assert await _outbox(pool, "duty-training-2026-09") == expected

        missed = await duties.record_training_missed(DutyDay(day=date(2026, 10, 1)))
        assert missed.orgs == expected
        rows = await pool.fetch("SELECT org FROM training_missed WHERE month = '2026-09-01' ORDER BY org")
        assert [r["org"] for r in rows] == expected
        assert (await duties.record_training_missed(DutyDay(day=date(2026, 10, 1)))).skipped == "already recorded"


class TestRoster:
    async def test_incomplete_rosters_are_reminded_ten_days_ahead(self, pool: asyncpg.Pool) -> None:
        """On 2026-09-21 the Mid-Autumn (9/25) and National Day (10/1) breaks are within ten days;
        only the one whose roster is incomplete is reminded, once."""
        calendar = await calendar_store.load_calendar(pool)
        mid_autumn = calendar.break_containing(date(2026, 9, 25))
        assert mid_autumn is not None
        for org in ("dept-hotline", "center", "utilities"):
            await set_roster(pool, mid_autumn, org, name="值班员", phone="13800000000", by="t")
        async with pool.acquire() as conn:
            assert await missing_roster(conn, mid_autumn) == []
        duties = DutyActivities(pool)
        out = await duties.roster_reminders(DutyDay(day=date(2026, 9, 21)))
        assert out.orgs == ["2026-10-01"]
        assert await _outbox(pool, "duty-roster-2026-10-01") == ["dept-hotline"]
        assert (await duties.roster_reminders(DutyDay(day=date(2026, 9, 22)))).orgs == []


@pytest.mark.integration
async def test_schedules_exist_once_after_start_up(dev_client: object) -> None:
    """Creating the schedules twice leaves exactly one of each, in Asia/Shanghai."""

    assert isinstance(dev_client, Client)
    await ensure_schedules(dev_client, task_queue="tq-schedules")
    await ensure_schedules(dev_client, task_queue="tq-schedules")
    ids = [s.id async for s in await dev_client.list_schedules()]
    for duty in DUTIES:
        assert ids.count(duty.schedule_id) == 1
        desc = await dev_client.get_schedule_handle(duty.schedule_id).describe()
        assert desc.schedule.spec.time_zone_name == "Asia/Shanghai"
        assert desc.schedule.spec.cron_expressions == [duty.cron] or desc.schedule.spec.calendars


@pytest.mark.integration
async def test_schedules_trigger_their_workflows(dev_client: object, pool: asyncpg.Pool, task_queue: str) -> None:
    """Triggering the schedules runs the duties on the worker; the monthly report stores a bulletin."""

    assert isinstance(dev_client, Client)
    async with running_worker(dev_client, pool, task_queue):
        await ensure_schedules(dev_client, task_queue=task_queue)
        before = await pool.fetchval("SELECT count(*) FROM bulletins")
        for duty in DUTIES:
            await dev_client.get_schedule_handle(duty.schedule_id).trigger()
        done: set[str] = set()
        for _ in range(150):
            async for wf in dev_client.list_workflows(
                f"WorkflowType IN ('{DAILY_DUTIES}', '{MONTHLY_REPORT}') AND ExecutionStatus = 'Completed'"
                f" AND TaskQueue = '{task_queue}'"
            ):
                done.add(wf.workflow_type)
            if done == {DAILY_DUTIES, MONTHLY_REPORT}:
                break
            await asyncio.sleep(0.2)
        assert done == {DAILY_DUTIES, MONTHLY_REPORT}
        assert await pool.fetchval("SELECT count(*) FROM bulletins") == before + 1 or before >= 1
        html = await pool.fetchval("SELECT html FROM bulletins ORDER BY generated_at DESC LIMIT 1")
        assert "<html" in html.lower()
