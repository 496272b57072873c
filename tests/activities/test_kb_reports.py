"""报送 (Arts. 4.6, 5.4, 6.6, 11): every knowledge-base entry and training material reaches the city
hotline's outbox exactly once, however often the command or the duties run."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from activities.duties import DutyActivities, training_reminder_day
from activities.store import calendar_store, outbox
from activities.store.db import apply_migrations, create_pool
from activities.store.duties import report_to_hotline, submit_kb
from domain.contract import HotlineSubmission
from domain.records import DutyDay
from tests.support.rulebooks import new_database

NOVEMBER = date(2026, 11, 1)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A database of the test's own (orgs, calendar seeded), with the workers' pool (jsonb decoded)."""
    pool = await create_pool(await new_database(database_url, prefix="kb"), max_size=6)
    yield pool
    await pool.close()


async def messages(db: asyncpg.Pool) -> list[Any]:
    return list(await db.fetch("SELECT * FROM hotline_outbox ORDER BY id"))


async def training(db: asyncpg.Pool, org: str = "dept-roads", **changes: Any) -> Any:
    args: dict[str, Any] = {
        "kind": "training",
        "title": "十一月培训：路灯报修流程",
        "content": "一、受理；二、派遣；三、回复。",
        "by": "张科",
        "month": NOVEMBER,
    }
    args.update(changes)
    return await submit_kb(db, org, **args)


class TestOneMessagePerEntry:
    async def test_training_material_reaches_the_hotline_outbox(self, db: asyncpg.Pool) -> None:
        """The entry and its message are written together; the payload says who, what and for which month."""
        done = await training(db)
        assert done.created
        [m] = await messages(db)
        assert m["id"] == done.message_id
        assert (m["run_id"], m["seq"], m["order_no"]) == (f"kb-{done.id}", 0, "-")
        assert m["kind"] == HotlineSubmission.TRAINING_MATERIAL == "training_material"
        assert m["body"] == "training material for 2026-11 from dept-roads (张科): 十一月培训：路灯报修流程"
        assert m["event_at"] == done.submitted_at
        payload = m["payload"]
        submitted_at = datetime.fromisoformat(payload.pop("submitted_at"))
        assert abs(submitted_at - done.submitted_at) < timedelta(seconds=1)
        assert submitted_at.utcoffset() == timedelta(hours=8)
        assert payload == {
            "entry": done.id,
            "category": "training",
            "org": "dept-roads",
            "org_name": "道路桥梁管理处",
            "reported_by": "dept-hotline",
            "submitted_by": "张科",
            "title": "十一月培训：路灯报修流程",
            "content": "一、受理；二、派遣；三、回复。",
            "month": "2026-11",
        }

    async def test_knowledge_base_entries_are_a_kind_of_their_own(self, db: asyncpg.Pool) -> None:
        """Regulations, real-time and hot-topic information: `knowledge_base`, their category, no month;
        the utilities bureau reports its own industry's (Art. 5.4)."""
        await submit_kb(
            db, "dept-law", kind="regulation", title="条例修订", content="第十条修订", by="李", month=NOVEMBER
        )
        await submit_kb(
            db, "utilities", kind="hot_topic", title="供热热点", content="集中报修", by="赵", month=NOVEMBER
        )
        got = [
            (m["kind"], m["payload"]["category"], m["payload"]["month"], m["payload"]["reported_by"])
            for m in await messages(db)
        ]
        assert got == [
            ("knowledge_base", "regulation", None, "dept-hotline"),
            ("knowledge_base", "hot_topic", None, "utilities"),
        ]

    async def test_the_same_entry_twice_is_one_entry_and_one_message(self, db: asyncpg.Pool) -> None:
        """The command run twice: the second call stores and sends nothing and names the first."""
        first = await training(db)
        again = await training(db, by="someone else")
        assert not again.created
        assert (again.id, again.submitted_by, again.message_id) == (first.id, "张科", first.message_id)
        assert len(await messages(db)) == 1
        assert await db.fetchval("SELECT count(*) FROM kb_submissions") == 1

    async def test_what_makes_another_entry(self, db: asyncpg.Pool) -> None:
        """Other content, another month's training material, another org: new entries, one message each.
        A knowledge-base entry is the same entry whatever month it is submitted in."""
        await training(db)
        await training(db, content="修订版")
        await training(db, month=date(2026, 12, 1))
        await training(db, org="district-hexi")
        kb = dict(kind="hot_topic", title="热点", content="同一条", by="t")
        assert (await submit_kb(db, "dept-law", month=NOVEMBER, **kb)).created
        assert not (await submit_kb(db, "dept-law", month=date(2026, 12, 1), **kb)).created
        rows = await messages(db)
        assert len(rows) == 5
        assert len({r["run_id"] for r in rows}) == 5

    async def test_concurrent_identical_submissions(self, db: asyncpg.Pool) -> None:
        """The command run twice at once: one entry, one message."""
        results = await asyncio.gather(*(training(db) for _ in range(5)))
        assert sorted(r.created for r in results) == [False, False, False, False, True]
        assert len({r.id for r in results}) == 1
        assert len(await messages(db)) == 1

    async def test_unknown_org_or_kind_stores_nothing(self, db: asyncpg.Pool) -> None:
        with pytest.raises(ValueError, match="unknown org"):
            await training(db, org="dept-nowhere")
        with pytest.raises(ValueError, match="unknown kind"):
            await training(db, kind="gossip")
        assert await messages(db) == []


class TestTheConsumer:
    async def test_claimed_once_and_never_again_after_ack(self, db: asyncpg.Pool) -> None:
        """The city hotline's consumer gets each entry once; a resubmission after the ack brings nothing back."""
        await training(db)
        await submit_kb(db, "dept-law", kind="realtime", title="即时信息", content="x", by="t", month=NOVEMBER)
        claimed = await outbox.claim(db, "hotline", consumer="city", limit=10, lease=timedelta(minutes=1))
        assert [m.kind for m in claimed] == ["training_material", "knowledge_base"]
        assert claimed[0].payload is not None
        assert claimed[0].payload["title"] == "十一月培训：路灯报修流程"
        assert (await outbox.ack(db, "hotline", consumer="city", ids=[m.id for m in claimed])).ok
        await training(db)
        assert await outbox.claim(db, "hotline", consumer="city", limit=10, lease=timedelta(minutes=1)) == []


class TestDutiesAndOlderEntries:
    async def test_duties_run_twice_send_nothing_twice(self, db: asyncpg.Pool) -> None:
        """The training duties (reminder day, the first of the month), each run twice, add no message to
        the city hotline: every entry keeps exactly one."""
        await training(db)
        await training(db, org="district-hexi")
        calendar = await calendar_store.load_calendar(db)
        duties = DutyActivities(db)
        reminder = training_reminder_day(calendar, NOVEMBER, 3)
        for _ in range(2):
            await duties.training_reminders(DutyDay(day=reminder))
            await duties.record_training_missed(DutyDay(day=date(2026, 12, 1)))
            await duties.roster_reminders(DutyDay(day=reminder))
        rows = await messages(db)
        assert [r["kind"] for r in rows] == ["training_material", "training_material"]
        assert await report_to_hotline(db) == []  # nothing left unreported

    async def test_entries_stored_before_the_migration_are_reported_once(self, db: asyncpg.Pool) -> None:
        """009 reports the entries stored before it, with the payload the code writes; running it (or the
        code's report) again writes nothing."""
        written = await training(db)
        await db.execute("DELETE FROM hotline_outbox")
        old = await db.fetchval(
            """INSERT INTO kb_submissions (org, kind, title, content, month, submitted_by)
               VALUES ('dept-law', 'hot_topic', '旧条目', '存量', '2026-10-01', '王') RETURNING id"""
        )
        await db.execute("DELETE FROM schema_migrations WHERE name = '011_knowledge_base_hotline.sql'")
        async with db.acquire() as conn:
            assert await apply_migrations(conn) == ["011_knowledge_base_hotline.sql"]
        rows = await messages(db)
        assert [r["run_id"] for r in rows] == [f"kb-{written.id}", f"kb-{old}"]
        by_migration = {r["run_id"]: (r["kind"], r["body"], r["payload"]) for r in rows}
        await db.execute("DELETE FROM hotline_outbox")
        assert len(await report_to_hotline(db)) == 2
        by_code = {r["run_id"]: (r["kind"], r["body"], r["payload"]) for r in await messages(db)}
        assert by_code == by_migration
        assert await report_to_hotline(db) == []
        assert by_code[f"kb-{old}"][2]["submitted_by"] == "王"
        assert by_code[f"kb-{old}"][2]["submitted_at"].endswith("+08:00")
        assert datetime.fromisoformat(by_code[f"kb-{old}"][2]["submitted_at"]).tzinfo is not None
