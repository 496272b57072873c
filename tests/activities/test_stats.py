"""Statistics against real order runs: each driven through the domain rules at chosen instants and
recorded by the real `record_order` activity after every step, as the workflow records it.

The database is this module's own (created on the session's server): other tests write orders into
the shared one, which would change every count here. Each story (`tests/support/stats.py`) says
what it contributes to March 2026; the expected figures are counted by hand from those notes.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from activities.orders import OrderActivities
from activities.reports.models import NO_UNIT
from activities.store.db import apply_migrations
from activities.store.stats import StatsError, assessment, bulletin_data, inquiry_statistics, statistics
from domain.assessment import Figures, Grouping, Period, SubjectGroup
from tests.support.stats import MARCH, MARCH_TOTAL, NOW, Db, Story, empty, march

__all__ = ["empty", "march"]  # the fixtures, imported for this module

MARCH_BY_UNIT = {
    "dept-roads": Figures(assigned=1, returns=1),
    "dept-sanitation": Figures(
        received=1,
        received_on_time=1,
        assigned=1,
        completed=1,
        completed_on_time=1,
        median_handling_hours=360.0,
        extensions_requested=1,
        extensions_approved=1,
        callbacks=1,
    ),
    "dept-landscape": Figures(received=1, received_on_time=1, assigned=1, extensions_requested=1, open_now=1),
    "dept-lighting": Figures(
        received=1,
        received_on_time=1,
        assigned=1,
        completed=1,
        median_handling_hours=139.5,
        extensions_requested=1,
        callbacks=2,
        dissatisfied=1,
        rehandled=1,
    ),
    "unit-sanitation-center": Figures(
        received=1, received_on_time=1, assigned=1, completed=1, completed_on_time=1, median_handling_hours=105.5
    ),
    "district-hexi": Figures(
        received=2,
        received_on_time=2,
        assigned=2,
        completed=2,
        completed_on_time=2,
        median_handling_hours=61.0,
        callbacks=2,
        dissatisfied=1,
        dissatisfied_excused=1,
        rehandled=1,
        appeals_filed=1,
        appeals_upheld=1,
    ),
    "district-nankai": Figures(received=1, received_late=1, assigned=1, late_at_end=1, open_now=1, late_now=1),
    "district-dongli": Figures(completed=1, completed_on_time=1, median_handling_hours=97.0, callbacks=1),
    "district-xiqing": Figures(
        received=1,
        received_on_time=1,
        assigned=1,
        completed=1,
        completed_on_time=1,
        median_handling_hours=29.0,
        callbacks=1,
        dissatisfied=1,
        rehandled=1,
        appeals_filed=1,
    ),
    "district-wuqing": Figures(open_now=1),
    "district-binhai": Figures(
        received=1,
        received_on_time=1,
        assigned=1,
        completed=1,
        completed_on_time=1,
        median_handling_hours=24.0,
        callbacks=3,
        dissatisfied=3,
        rehandled=2,
    ),
    NO_UNIT: Figures(received=3, received_on_time=2, open_now=1, late_now=1),  # G H J
}

MARCH_BY_PLATFORM = {
    "center": Figures(
        received=10,
        received_on_time=9,
        received_late=1,
        assigned=9,
        completed=7,
        completed_on_time=6,
        median_handling_hours=97.0,  # 24 49 73 | 97 | 105.5 139.5 360
        returns=1,
        extensions_requested=3,
        extensions_approved=1,
        callbacks=9,
        dissatisfied=5,
        dissatisfied_excused=1,
        rehandled=4,
        appeals_filed=1,
        appeals_upheld=1,
        late_at_end=1,
        open_now=4,
        late_now=2,
    ),
    "utilities": Figures(  # F G
        received=2,
        received_on_time=1,
        assigned=1,
        completed=1,
        completed_on_time=1,
        median_handling_hours=29.0,
        callbacks=1,
        dissatisfied=1,
        rehandled=1,
        appeals_filed=1,
    ),
}


class TestStatistics:
    async def test_march_in_total(self, march: Db) -> None:
        """Every figure of March's total equals the count by hand."""
        report = await statistics(march.pool, MARCH, now=NOW)
        assert report.total == MARCH_TOTAL
        assert report.rows == []
        assert report.as_of == NOW

    async def test_by_unit(self, march: Db) -> None:
        """Each event counts for its unit: returns for the returner, the rest for the lead; none: `-`."""
        report = await statistics(march.pool, MARCH, by=Grouping.UNIT, now=NOW)
        assert {r.key: r.figures for r in report.rows} == MARCH_BY_UNIT
        assert report.total == MARCH_TOTAL
        assert report.rows[-1].key == NO_UNIT
        assert [r.key for r in report.rows][:4] == ["dept-roads", "dept-sanitation", "dept-landscape", "dept-lighting"]

    async def test_by_platform(self, march: Db) -> None:
        """Heating and gas count for the utilities platform, the rest for the center's."""
        report = await statistics(march.pool, MARCH, by=Grouping.PLATFORM, now=NOW)
        assert {r.key: r.figures for r in report.rows} == MARCH_BY_PLATFORM
        assert report.total == MARCH_TOTAL

    async def test_by_district(self, march: Db) -> None:
        """Grouped by the order's location: hexi has A and E."""
        report = await statistics(march.pool, MARCH, by=Grouping.DISTRICT, now=NOW)
        rows = {r.key: r.figures for r in report.rows}
        assert rows["hexi"] == Figures(
            received=2,
            received_on_time=2,
            assigned=3,
            completed=2,
            completed_on_time=2,
            median_handling_hours=61.0,
            returns=1,
            callbacks=2,
            dissatisfied=1,
            dissatisfied_excused=1,
            rehandled=1,
            appeals_filed=1,
            appeals_upheld=1,
        )
        assert {k: v.received for k, v in rows.items()} == {
            "heping": 1,
            "hedong": 1,
            "hexi": 2,
            "nankai": 1,
            "hebei": 1,
            "hongqiao": 1,
            "dongli": 0,
            "xiqing": 1,
            "jinnan": 1,
            "beichen": 1,
            "wuqing": 0,
            "binhai": 1,
            "jinghai": 1,
        }
        assert list(rows) == sorted(rows, key=list(rows).index)  # directory order
        assert report.total == MARCH_TOTAL

    @pytest.mark.parametrize(
        ("by", "received"),
        [
            (Grouping.TIER, {"normal": 8, "urgent": 1, "very_urgent": 2, "extra_urgent": 1}),
            (Grouping.CATEGORY, {"general": 10, "heating": 1, "gas": 1}),
        ],
    )
    async def test_by_tier_and_category(self, march: Db, by: Grouping, received: dict[str, int]) -> None:
        """Received per tier and per category add up to the total, in the enums' order."""
        report = await statistics(march.pool, MARCH, by=by, now=NOW)
        assert {r.key: r.figures.received for r in report.rows} == received
        assert [r.key for r in report.rows] == list(received)

    async def test_a_day_is_local(self, march: Db) -> None:
        """K was dispatched 2026-02-28T16:30Z, which is 1 March in Tianjin: it counts on 1 March."""
        report = await statistics(march.pool, Period(first=MARCH.first, last=MARCH.first), now=NOW)
        assert report.total.received == 1
        february = await statistics(march.pool, Period.month(2026, 2), now=NOW)
        assert (february.total.received, february.total.assigned, february.total.completed) == (1, 1, 0)  # I

    async def test_april_counts_what_happened_in_april(self, march: Db) -> None:
        """N's approval and result, J's and M's receipt fall in April; J is late at the end (now)."""
        report = await statistics(march.pool, Period.month(2026, 4), now=NOW)
        tot = report.total
        assert (tot.received, tot.extensions_approved, tot.completed, tot.completed_on_time) == (1, 1, 1, 1)
        assert (tot.late_at_end, tot.late_now, tot.open_now) == (2, 2, 4)  # the month has not ended

    async def test_late_at_the_end_of_a_month_before_the_deadline_passed(self, march: Db) -> None:
        """Before B's completion deadline passed (at 03-16 end) nothing was late."""
        report = await statistics(march.pool, Period(first=MARCH.first, last=MARCH.first.replace(day=16)), now=NOW)
        assert report.total.late_at_end == 0
        report = await statistics(march.pool, Period(first=MARCH.first, last=MARCH.first.replace(day=17)), now=NOW)
        assert report.total.late_at_end == 1

    async def test_a_period_without_orders(self, march: Db) -> None:
        """A year with no orders: zero counts, no median, and the running orders of now."""
        report = await statistics(march.pool, Period.month(2025, 1), by=Grouping.TIER, now=NOW)
        assert report.total == Figures(open_now=4, late_now=2)
        assert report.total.median_handling_hours is None

    async def test_an_empty_database(self, empty: Db) -> None:
        """No orders at all: a valid report of zeros."""
        report = await statistics(empty.pool, MARCH, by=Grouping.UNIT, now=NOW)
        assert report.rows == []
        assert report.total == Figures()


class TestFacts:
    async def test_facts_follow_every_write(self, empty: Db) -> None:
        """The trigger rewrites a run's facts at each write: only the latest status counts."""
        acts = OrderActivities(empty.pool)
        s = Story(acts, "TJX", "2026-03-06 09:00")
        await s.write()
        assert (await statistics(empty.pool, MARCH, now=NOW)).total.received_on_time == 0
        await s.receive("2026-03-06 09:30")
        await s.dispatch("2026-03-06 10:00", "2026-03-06 10:30", "district-hexi")
        assert (await statistics(empty.pool, MARCH, now=NOW)).total == Figures(
            received=1, received_on_time=1, assigned=1, late_at_end=1, open_now=1, late_now=1
        )
        await s.contact("2026-03-06 11:00", "district-hexi")
        await s.result("2026-03-09 10:00", "district-hexi")
        await s.callback("2026-03-11 10:00", "satisfied")
        assert (await statistics(empty.pool, MARCH, now=NOW)).total == Figures(
            received=1,
            received_on_time=1,
            assigned=1,
            completed=1,
            completed_on_time=1,
            median_handling_hours=73.0,
            callbacks=1,
        )
        async with empty.pool.acquire() as conn:
            n = await conn.fetchval("SELECT count(*) FROM order_events")
            fresh = await conn.fetchval("SELECT count(*) FROM orders o, stats_events_of(o.run_id, o.status)")
            assert n == fresh == 4  # received, assigned, completed, callback

    async def test_only_a_changed_status_rewrites_the_facts(self, empty: Db) -> None:
        """Updating other columns of the projection leaves the facts as they are; deleting drops them."""
        acts = OrderActivities(empty.pool)
        s = Story(acts, "TJV", "2026-03-06 09:00")
        await s.write()
        await s.receive("2026-03-06 09:30")
        async with empty.pool.acquire() as conn:
            before = await conn.fetch("SELECT xmin::text, kind FROM order_events ORDER BY kind")
            await conn.execute("UPDATE orders SET address = '另一个地址', updated_at = now()")
            assert await conn.fetch("SELECT xmin::text, kind FROM order_events ORDER BY kind") == before
            await conn.execute("UPDATE orders SET status = jsonb_set(status, '{tier}', '\"urgent\"')")
            assert await conn.fetchval("SELECT tier FROM order_events") == "urgent"
            await conn.execute("DELETE FROM order_timeline; DELETE FROM orders")
            assert await conn.fetchval("SELECT count(*) FROM order_events") == 0
            assert await conn.fetchval("SELECT count(*) FROM order_spans") == 0

    async def test_a_status_the_facts_cannot_read_never_stops_the_projection(self, empty: Db) -> None:
        """A bad status is still written; the run waits in stats_backlog and stats says so."""
        acts = OrderActivities(empty.pool)
        s = Story(acts, "TJY", "2026-03-06 09:00")
        await s.write()
        async with empty.pool.acquire() as conn:
            await conn.execute(
                "UPDATE orders SET status = jsonb_set(status, '{dispatched_at}', '\"not a time\"') WHERE run_id = $1",
                s.run_id,
            )
            assert await conn.fetchval("SELECT status ->> 'dispatched_at' FROM orders") == "not a time"
            assert await conn.fetchval("SELECT count(*) FROM stats_backlog") == 1
        with pytest.raises(StatsError, match=r"1 order run\(s\) cannot be derived"):
            await statistics(empty.pool, MARCH, now=NOW)
        await s.receive("2026-03-06 09:30")  # the workflow writes the whole status again
        report = await statistics(empty.pool, MARCH, now=NOW)
        assert (report.total.received, report.total.received_on_time) == (1, 1)
        async with empty.pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM stats_backlog") == 0

    async def test_the_backlog_is_derived_again_before_figures(self, empty: Db) -> None:
        """Facts lost to the backlog come back when the statistics are next asked for."""
        acts = OrderActivities(empty.pool)
        s = Story(acts, "TJZ", "2026-03-06 09:00")
        await s.write()
        async with empty.pool.acquire() as conn:
            await conn.execute("DELETE FROM order_events")
            await conn.execute("INSERT INTO stats_backlog (run_id, error) VALUES ($1, 'test')", s.run_id)
        assert (await statistics(empty.pool, MARCH, now=NOW)).total.received == 1

    async def test_the_migration_derives_the_orders_already_recorded(self, empty: Db) -> None:
        """Orders recorded before migration 005 get their facts when it is applied."""
        acts = OrderActivities(empty.pool)
        s = Story(acts, "TJW", "2026-03-06 09:00")
        await s.write()
        await s.receive("2026-03-06 09:30")
        async with empty.pool.acquire() as conn:
            await conn.execute(
                """
                DROP FUNCTION stats_orders_changed() CASCADE;
                DROP FUNCTION stats_rederive(text[]), stats_events_of(text, jsonb), stats_spans_of(text, jsonb),
                    stats_on_time(jsonb), stats_lead_unit(jsonb);
                DROP TABLE order_events, order_spans, stats_backlog, training_missed;
                DELETE FROM schema_migrations WHERE name = '005_statistics.sql';
                """
            )
            assert await apply_migrations(conn) == ["005_statistics.sql"]
        report = await statistics(empty.pool, MARCH, now=NOW)
        assert (report.total.received, report.total.received_on_time, report.total.open_now) == (1, 1, 1)


class TestAssessment:
    async def test_march_scores(self, march: Db) -> None:
        """Scores from the figures: the excused verdict does not count, the missed training does."""
        report = await assessment(march.pool, MARCH, now=NOW)
        assert report.version == "tianjin-assessment-2021"
        scores = {(s.group, s.org): s for s in report.scores}
        hexi = scores[(SubjectGroup.DISTRICT_COMMISSION, "district-hexi")]
        assert hexi.rates["satisfaction"] == 1.0  # 2 verdicts, the dissatisfied one excused
        assert (hexi.score, hexi.rank) == (100.0, 1)
        nankai = scores[(SubjectGroup.DISTRICT_COMMISSION, "district-nankai")]
        # only the returns rate has a denominator (100); one order late at the end (-2), no training (-5)
        assert (nankai.score, nankai.late_deduction, nankai.training_deduction) == (93.0, 2.0, 5.0)
        binhai = scores[(SubjectGroup.DISTRICT_COMMISSION, "district-binhai")]
        assert binhai.score == 60.0  # completion 1 x 40, satisfaction 0 x 40, no returns 1 x 20
        lighting = scores[(SubjectGroup.UNIT, "dept-lighting")]
        assert lighting.score == 40.0  # completion 0, satisfaction 1/2, no returns 1
        roads = scores[(SubjectGroup.UNIT, "dept-roads")]
        assert roads.score == 0.0  # its only handling order returned
        center = scores[(SubjectGroup.PLATFORM, "center")]
        # receipt 9/10 x 40 + completion 6/7 x 30 + satisfaction 5/9 x 30, less 1 late x 1
        assert center.score == round(100 * (0.9 * 40 + 6 / 7 * 30 + 5 / 9 * 30) / 100 - 1, 2)

    async def test_who_is_listed(self, march: Db) -> None:
        """Both platforms and all 16 district commissions; units only with something to assess."""
        report = await assessment(march.pool, MARCH, now=NOW)
        groups: dict[SubjectGroup, list[str]] = {}
        for s in report.scores:
            groups.setdefault(s.group, []).append(s.org)
        assert sorted(groups[SubjectGroup.PLATFORM]) == ["center", "utilities"]
        assert len(groups[SubjectGroup.DISTRICT_COMMISSION]) == 16
        assert sorted(groups[SubjectGroup.UNIT]) == [
            "dept-landscape",
            "dept-lighting",
            "dept-roads",
            "dept-sanitation",
            "unit-sanitation-center",
        ]
        ranks = [s.rank for s in report.scores if s.group is SubjectGroup.DISTRICT_COMMISSION]
        assert ranks == sorted(ranks)
        *_, before_last, last = [s for s in report.scores if s.group is SubjectGroup.DISTRICT_COMMISSION]
        # binhai and xiqing both: completion 1, satisfaction 0 (xiqing's appeal was rejected), no returns 1
        assert [(x.org, x.score, x.rank) for x in (before_last, last)] == [
            ("district-binhai", 60.0, 15),
            ("district-xiqing", 60.0, 15),
        ]


class TestBulletinData:
    async def test_march(self, march: Db) -> None:
        """Late orders by unit, the dissatisfied verdicts with their notes, the previous month."""
        data = await bulletin_data(march.pool, MARCH, now=NOW)
        assert data.current == MARCH_TOTAL
        assert data.before.received == 1  # I
        # late during March: B's receipt ('-', platform) and completion (nankai), D's completion
        assert {(x.unit, x.during, x.at_end) for x in data.late_by_unit} == {
            ("district-nankai", 1, 1),
            ("dept-lighting", 1, 0),
            (NO_UNIT, 1, 0),
        }
        assert data.late_orders_total == 2
        assert {(x.order_no, x.deadline) for x in data.late_orders} == {
            ("TJB", "receipt"),
            ("TJB", "completion"),
            ("TJD", "completion"),
        }
        assert [(x.order_no, x.round, x.note, x.appeal, x.excused) for x in data.dissatisfied] == [
            ("TJF", 0, "暖气仍不热", "rejected", False),
            ("TJE", 0, "诉求超出职责范围", "upheld", True),
            ("TJD", 0, "灯还是不亮", "", False),
            ("TJL", 0, "噪音依旧", "", False),
            ("TJL", 1, "还是吵", "", False),
            ("TJL", 2, "没有解决", "", False),
        ]
        assert data.dissatisfied_total == 6
        assert data.names["district-hexi"] == "河西区城市管理委员会"


async def test_inquiry_figures_equal_a_count_by_hand(empty: Db) -> None:
    """Asked, answered, on time, open and late per unit, over four doubtful orders."""
    rows = [  # unit, asked, due, answered
        ("dept-roads", "2026-03-02T10:00:00+08:00", "2026-03-04T00:00:00+08:00", "2026-03-03T09:00:00+08:00"),
        ("dept-roads", "2026-03-05T10:00:00+08:00", "2026-03-07T00:00:00+08:00", "2026-03-09T09:00:00+08:00"),
        ("dept-roads", "2026-03-30T10:00:00+08:00", "2026-04-01T00:00:00+08:00", None),
        ("district-hexi", "2026-02-27T10:00:00+08:00", "2026-03-03T00:00:00+08:00", "2026-03-02T09:00:00+08:00"),
    ]
    for i, (unit, asked, due, answered) in enumerate(rows):
        await empty.pool.execute(
            """INSERT INTO inquiries (run_id, workflow_id, inquiry_no, unit, asked_at, question, rulebook, phase,
                   reply_due, answered_at, status, revision)
               VALUES ($1, $1, $1, $2, $3, 'q', 'tianjin-2021', $4, $5, $6, '{}'::jsonb, 1)""",
            f"inq-{i}", unit, datetime.fromisoformat(asked), "answered" if answered else "awaiting_answer",
            datetime.fromisoformat(due), datetime.fromisoformat(answered) if answered else None,
        )  # fmt: skip
    march = Period.month(2026, 3)
    got = {r.unit: r for r in await inquiry_statistics(empty.pool, march, now=datetime.fromisoformat(
        "2026-04-02T09:00:00+08:00"))}  # fmt: skip
    roads, hexi = got["dept-roads"], got["district-hexi"]
    assert (roads.asked, roads.answered, roads.answered_on_time, roads.open_now, roads.late_now) == (3, 2, 1, 1, 1)
    assert (hexi.asked, hexi.answered, hexi.answered_on_time, hexi.open_now, hexi.late_now) == (0, 1, 1, 0, 0)
