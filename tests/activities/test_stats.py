"""Statistics against real order runs: each driven through the domain rules at chosen instants and
recorded by the real `record_order` activity after every step, as the workflow records it.

The database is this module's own (created on the session's server): other tests write orders into
the shared one, which would change every count here. Each story (`tests/support/stats.py`) says
what it contributes to March 2026; the expected figures are counted by hand from those notes.
"""

from __future__ import annotations

import random
from datetime import datetime

import pytest

from activities.orders import OrderActivities
from activities.reports.models import NO_UNIT
from activities.store.db import apply_migrations
from activities.store.stats import (
    StatsError,
    assessment,
    bulletin_data,
    inquiry_statistics,
    median,
    statistics,
)
from domain.assessment import Figures, Grouping, Period, SubjectGroup
from domain.privacy import REDACTED
from tests.support.stats import F_REPORTER, HOTLINE, MARCH, MARCH_TOTAL, NOW, Db, Story, empty, handler, march, t

__all__ = ["empty", "march"]  # the fixtures, imported for this module

MARCH_BY_UNIT = {
    "dept-roads": Figures(dispatched=1, median_dispatch_hours=0.5, assigned=1, returns=1),  # E's first lead
    "dept-sanitation": Figures(  # C
        received=1,
        received_on_time=1,
        dispatched=1,
        median_dispatch_hours=0.75,
        assigned=1,
        completed=1,
        completed_on_time=1,
        median_handling_hours=359.0,
        results_reviewed=1,
        median_review_hours=2.0,
        extensions_requested=1,
        extensions_forwarded=1,
        extensions_approved=1,
        callbacks=1,
    ),
    "dept-landscape": Figures(  # N: its late review counts for no unit
        received=1,
        received_on_time=1,
        dispatched=1,
        median_dispatch_hours=2.0,
        assigned=1,
        extensions_requested=1,
        open_now=1,
    ),
    "dept-lighting": Figures(  # D
        received=1,
        received_on_time=1,
        dispatched=1,
        median_dispatch_hours=0.5,
        assigned=1,
        completed=1,
        median_handling_hours=139.0,
        results_reviewed=2,
        results_reviewed_late=1,
        median_review_hours=3.0,  # 5 and 1
        extensions_requested=1,
        extensions_forwarded=1,
        extensions_refused=1,
        callbacks=2,
        dissatisfied=1,
        rehandled=1,
        appeals_filed=1,
        appeals_moot=1,
    ),
    "unit-sanitation-center": Figures(  # K
        received=1,
        received_on_time=1,
        dispatched=1,
        median_dispatch_hours=0.5,
        assigned=1,
        completed=1,
        completed_on_time=1,
        median_handling_hours=96.5,
        results_reviewed=2,
        results_sent_back=1,
        median_review_hours=1.375,  # 0.25 and 2.5
        extensions_requested=1,
        extensions_ended=1,
    ),
    "district-hexi": Figures(  # A E
        received=2,
        received_on_time=2,
        dispatched=1,  # A; E was first dispatched to dept-roads
        median_dispatch_hours=1.0,
        assigned=2,
        completed=2,
        completed_on_time=2,
        median_handling_hours=57.75,  # 71.5 and 44
        results_reviewed=3,
        median_review_hours=1.0,  # 1 0.5 1
        callbacks=2,
        dissatisfied=1,
        dissatisfied_excused=1,
        rehandled=1,
        appeals_filed=1,
        appeals_upheld=1,
    ),
    "district-nankai": Figures(  # B
        received=1,
        received_late=1,
        dispatched=1,
        median_dispatch_hours=1.0,
        assigned=1,
        late_at_end=1,
        open_now=1,
        late_now=1,
    ),
    "district-dongli": Figures(  # I
        completed=1,
        completed_on_time=1,
        median_handling_hours=96.0,
        results_reviewed=1,
        median_review_hours=0.5,
        callbacks=1,
    ),
    "district-xiqing": Figures(  # F
        received=1,
        received_on_time=1,
        dispatched=1,
        median_dispatch_hours=0.5,
        assigned=1,
        completed=1,
        completed_on_time=1,
        median_handling_hours=28.0,
        results_reviewed=2,
        median_review_hours=1.25,  # 1.5 and 1
        callbacks=2,
        dissatisfied=2,
        rehandled=1,
        appeals_filed=1,
        appeals_rejected=1,
    ),
    "district-wuqing": Figures(open_now=1),  # M
    "district-binhai": Figures(  # L
        received=1,
        received_on_time=1,
        dispatched=1,
        median_dispatch_hours=1.5,
        assigned=1,
        completed=1,
        completed_on_time=1,
        median_handling_hours=22.5,
        results_reviewed=2,
        median_review_hours=1.75,  # 2.5 and 1
        callbacks=2,
        dissatisfied=2,
        rehandled=1,
        appeals_filed=1,
        appeals_pending=1,
        open_now=1,
    ),
    "district-ninghe": Figures(  # P
        received=1,
        received_on_time=1,
        dispatched=1,
        median_dispatch_hours=0.5,
        assigned=1,
        completed=1,
        completed_on_time=1,
        median_handling_hours=408.0,
        results_reviewed=1,
        median_review_hours=1.0,
        extensions_requested=2,
        extensions_forwarded=1,
        extensions_declined=1,
        extensions_approved=1,
        extensions_forgiven=1,
        callbacks=1,
    ),
    "district-jizhou": Figures(appeals_unanswered=1),  # R
    # G H J; H's dispatch reminder and escalation; N's late review (the platform's duty)
    NO_UNIT: Figures(
        received=3, received_on_time=2, dispatch_reminders=1, dispatch_escalations=1, open_now=1, late_now=1
    ),
}

MARCH_BY_PLATFORM = {
    "center": Figures(
        received=11,
        received_on_time=10,
        received_late=1,
        dispatched=9,
        median_dispatch_hours=0.75,  # D E K P 0.5 | C 0.75 | A B 1 L 1.5 N 2
        dispatch_reminders=1,
        dispatch_escalations=1,
        assigned=10,
        returns=1,
        completed=8,
        completed_on_time=7,
        median_handling_hours=96.25,  # 22.5 44 71.5 96 | 96.5 139 359 408
        results_reviewed=12,
        results_reviewed_late=1,
        results_sent_back=1,
        median_review_hours=1.0,
        extensions_requested=6,
        extensions_forwarded=3,
        extensions_declined=1,
        extensions_approved=2,
        extensions_refused=1,
        extensions_forgiven=1,
        extensions_ended=1,
        callbacks=9,
        dissatisfied=4,
        dissatisfied_excused=1,
        rehandled=3,
        appeals_filed=3,
        appeals_upheld=1,
        appeals_unanswered=1,
        appeals_moot=1,
        appeals_pending=1,
        late_at_end=1,
        open_now=5,
        late_now=2,
    ),
    "utilities": Figures(  # F G
        received=2,
        received_on_time=1,
        dispatched=1,
        median_dispatch_hours=0.5,
        assigned=1,
        completed=1,
        completed_on_time=1,
        median_handling_hours=28.0,
        results_reviewed=2,
        median_review_hours=1.25,
        callbacks=2,
        dissatisfied=2,
        rehandled=1,
        appeals_filed=1,
        appeals_rejected=1,
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
            dispatched=2,
            median_dispatch_hours=0.75,  # A 1, E 0.5
            assigned=3,
            returns=1,
            completed=2,
            completed_on_time=2,
            median_handling_hours=57.75,
            results_reviewed=3,
            median_review_hours=1.0,
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
            "ninghe": 1,
            "jinghai": 1,
            "jizhou": 0,
        }
        assert list(rows) == sorted(rows, key=list(rows).index)  # directory order
        assert report.total == MARCH_TOTAL

    @pytest.mark.parametrize(
        ("by", "received"),
        [
            (Grouping.TIER, {"normal": 9, "urgent": 1, "very_urgent": 2, "extra_urgent": 1}),
            (Grouping.CATEGORY, {"general": 11, "heating": 1, "gas": 1}),
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
        assert (february.total.received, february.total.assigned, february.total.completed) == (2, 2, 1)  # I R

    async def test_april_counts_what_happened_in_april(self, march: Db) -> None:
        """M's receipt and dispatch, J's dispatch reminder and escalation, N's forward and approval fall in
        April; N's result waits for its review, so it is no completion yet, and is late (for no unit)."""
        report = await statistics(march.pool, Period.month(2026, 4), now=NOW)
        tot = report.total
        assert (tot.received, tot.dispatched, tot.dispatch_reminders, tot.dispatch_escalations) == (1, 1, 1, 1)
        assert (tot.extensions_forwarded, tot.extensions_approved, tot.extensions_forgiven) == (1, 1, 0)
        assert (tot.completed, tot.results_reviewed) == (0, 0)
        assert (tot.late_at_end, tot.late_now, tot.open_now, tot.appeals_pending) == (2, 2, 5, 1)  # not ended yet

    async def test_late_at_the_end_of_a_month_before_the_deadline_passed(self, march: Db) -> None:
        """Before B's completion deadline passed (at 03-16 end) nothing was late."""
        report = await statistics(march.pool, Period(first=MARCH.first, last=MARCH.first.replace(day=16)), now=NOW)
        assert report.total.late_at_end == 0
        report = await statistics(march.pool, Period(first=MARCH.first, last=MARCH.first.replace(day=17)), now=NOW)
        assert report.total.late_at_end == 1

    async def test_a_period_without_orders(self, march: Db) -> None:
        """A year with no orders: zero counts, no median, and the running orders of now."""
        report = await statistics(march.pool, Period.month(2025, 1), by=Grouping.TIER, now=NOW)
        assert report.total == Figures(open_now=5, late_now=2)
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
            received=1,
            received_on_time=1,
            dispatched=1,
            median_dispatch_hours=1.0,
            assigned=1,
            late_at_end=1,
            open_now=1,
            late_now=1,
        )
        await s.contact("2026-03-06 11:00", "district-hexi")
        await s.result("2026-03-09 10:00", "district-hexi")
        # waiting for the platform's review: no completion yet, and the unit is not late meanwhile
        assert (await statistics(empty.pool, MARCH, now=NOW)).total == Figures(
            received=1,
            received_on_time=1,
            dispatched=1,
            median_dispatch_hours=1.0,
            assigned=1,
            late_at_end=1,  # the review, due 03-09 13:00: the platform's
            open_now=1,
            late_now=1,
        )
        await s.review("2026-03-09 12:00")
        await s.callback("2026-03-11 10:00", "satisfied")
        assert (await statistics(empty.pool, MARCH, now=NOW)).total == Figures(
            received=1,
            received_on_time=1,
            dispatched=1,
            median_dispatch_hours=1.0,
            assigned=1,
            completed=1,
            completed_on_time=1,
            median_handling_hours=71.5,
            results_reviewed=1,
            median_review_hours=2.0,
            callbacks=1,
        )
        async with empty.pool.acquire() as conn:
            n = await conn.fetchval("SELECT count(*) FROM order_events")
            fresh = await conn.fetchval("SELECT count(*) FROM orders o, stats_events_of(o.run_id, o.status)")
            assert n == fresh == 6  # received, dispatched, assigned, completed, result_reviewed, callback

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

    async def test_migration_010_derives_the_orders_already_recorded(self, empty: Db) -> None:
        """Migration 010 derives every recorded run again by its rules; a status they cannot read waits in
        the backlog instead of failing the migration."""
        acts = OrderActivities(empty.pool)
        good = Story(acts, "TJW", "2026-03-06 09:00")
        await good.write()
        await good.receive("2026-03-06 09:30")
        await good.dispatch("2026-03-06 10:00", "2026-03-06 10:30", "district-hexi")
        await good.contact("2026-03-06 11:00", "district-hexi")
        await good.result("2026-03-09 10:00", "district-hexi")
        await good.review("2026-03-09 11:00", sent_back="缺少照片")
        bad = Story(acts, "TJU", "2026-03-06 09:00")
        await bad.write()
        async with empty.pool.acquire() as conn:
            await conn.execute(
                "UPDATE orders SET status = jsonb_set(status, '{dispatched_at}', '\"not a time\"') WHERE run_id = $1",
                bad.run_id,
            )
            await conn.execute("DELETE FROM order_events; DELETE FROM order_spans")
            await conn.execute("DELETE FROM schema_migrations WHERE name = '010_statistics_lifecycle2.sql'")
            assert await apply_migrations(conn) == ["010_statistics_lifecycle2.sql"]
            kinds = await conn.fetch("SELECT kind FROM order_events WHERE run_id = $1 ORDER BY kind", good.run_id)
            assert [r["kind"] for r in kinds] == [
                "assigned",
                "dispatched",
                "received",
                "result_reviewed",
                "result_sent_back",
            ]
            assert await conn.fetchval("SELECT run_id FROM stats_backlog") == bad.run_id
        with pytest.raises(StatsError, match=r"1 order run\(s\) cannot be derived"):
            await statistics(empty.pool, MARCH, now=NOW)


class TestLifecycle2:
    """How the figures judge what lifecycle 2 added, one story each, counted by hand. The completion
    deadline of an order dispatched to its unit on Fri 2026-03-06 10:30 is 03-17 00:00."""

    @staticmethod
    async def dispatched(empty: Db, order_no: str) -> Story:
        s = Story(OrderActivities(empty.pool), order_no, "2026-03-06 09:00")
        await s.write()
        await s.receive("2026-03-06 09:30")
        await s.dispatch("2026-03-06 10:00", "2026-03-06 10:30", "district-hexi")
        await s.contact("2026-03-06 11:00", "district-hexi")
        return s

    @staticmethod
    async def late(empty: Db, at: str) -> dict[str, int]:
        """Late orders per unit at instant ``at``."""
        report = await statistics(empty.pool, MARCH, by=Grouping.UNIT, now=t(at))
        return {r.key: r.figures.late_now for r in report.rows if r.figures.late_now}

    async def test_a_result_waiting_for_review_stops_the_units_clock(self, empty: Db) -> None:
        """Submitted 03-16 10:00, reviewed 03-17 10:00 (due 03-16 13:00): the platform is late from 13:00,
        the unit never (its deadline passed while the result waited); approved, it completed on time."""
        s = await self.dispatched(empty, "TJ1")
        await s.result("2026-03-16 10:00", "district-hexi")
        assert await self.late(empty, "2026-03-17 05:00") == {NO_UNIT: 1}
        await s.review("2026-03-17 10:00")
        assert await self.late(empty, "2026-03-17 05:00") == {NO_UNIT: 1}
        assert await self.late(empty, "2026-03-17 11:00") == {}
        tot = (await statistics(empty.pool, MARCH, now=NOW)).total
        assert (tot.completed, tot.completed_on_time, tot.median_handling_hours) == (1, 1, 239.5)
        assert (tot.results_reviewed, tot.results_reviewed_late, tot.median_review_hours) == (1, 1, 24.0)

    async def test_a_result_sent_back_after_the_deadline_is_late_from_the_deadline(self, empty: Db) -> None:
        """Sent back 03-17 10:00: the unit's clock ran on, so it was late from its due 03-17 00:00 until the
        accepted submission 03-18 10:00; the review time is not added to the unit's, nor taken off."""
        s = await self.dispatched(empty, "TJ2")
        await s.result("2026-03-16 10:00", "district-hexi")
        await s.review("2026-03-16 11:00", sent_back="缺少现场照片")
        await s.result("2026-03-16 15:00", "district-hexi")
        await s.review("2026-03-17 10:00", sent_back="照片不清楚")
        assert await self.late(empty, "2026-03-17 05:00") == {"district-hexi": 1, NO_UNIT: 1}
        await s.result("2026-03-18 10:00", "district-hexi")
        await s.review("2026-03-18 11:00")
        assert await self.late(empty, "2026-03-18 09:00") == {"district-hexi": 1}
        assert await self.late(empty, "2026-03-18 10:30") == {}
        tot = (await statistics(empty.pool, MARCH, now=NOW)).total
        assert (tot.completed, tot.completed_on_time, tot.median_handling_hours) == (1, 0, 287.5)
        # 11:00 - 10:00, 03-17 10:00 - 03-16 15:00 (due 18:00 -> late), 11:00 - 10:00
        assert (tot.results_reviewed, tot.results_reviewed_late, tot.results_sent_back) == (3, 1, 2)
        assert tot.median_review_hours == 1.0

    async def test_an_extension_approved_after_the_deadline_forgives_its_lateness(self, empty: Db) -> None:
        """Asked 03-13 on time, forwarded, approved 03-17 10:00 (after 03-17 00:00): the order was late
        between, until the approval rewrote that as if the new deadline had been in force all along."""
        s = await self.dispatched(empty, "TJ3")
        await s.extension("2026-03-13 10:00", "district-hexi", "2026-03-25 00:00", "2026-03-13 09:00")
        await s.forward("2026-03-13 11:00")
        await s.to("2026-03-17 06:00")
        assert await self.late(empty, "2026-03-17 05:00") == {"district-hexi": 1}
        await s.decide_extension("2026-03-17 10:00", "2026-03-25 00:00")
        assert await self.late(empty, "2026-03-17 05:00") == {}
        await s.result("2026-03-20 10:00", "district-hexi")
        await s.review("2026-03-20 11:00")
        tot = (await statistics(empty.pool, MARCH, now=NOW)).total
        assert (tot.extensions_requested, tot.extensions_forwarded, tot.extensions_approved) == (1, 1, 1)
        assert (tot.extensions_forgiven, tot.completed, tot.completed_on_time, tot.late_at_end) == (1, 1, 1, 0)

    async def test_an_upheld_appeal_excuses_the_verdicts_it_contests(self, empty: Db) -> None:
        """Lifecycle 2: dissatisfied, re-handled, dissatisfied again, appealed in the appeal window, upheld:
        the verdict that opened the round and the round's own verdict are both excused."""
        s = await self.dispatched(empty, "TJ4")
        await s.result("2026-03-09 10:00", "district-hexi")
        await s.review("2026-03-09 11:00")
        await s.callback("2026-03-10 10:00", "dissatisfied", "没修好")
        await s.contact("2026-03-10 11:00", "district-hexi")
        await s.result("2026-03-11 10:00", "district-hexi", "现场照片")
        await s.review("2026-03-11 11:00")
        await s.callback("2026-03-12 10:00", "dissatisfied", "还是没修好")
        await s.appeal("2026-03-13 10:00")
        await s.act("appeal_decision", "2026-03-16 10:00", HOTLINE, upheld=True)
        tot = (await statistics(empty.pool, MARCH, now=NOW)).total
        assert (tot.callbacks, tot.dissatisfied, tot.dissatisfied_excused, tot.rehandled) == (2, 2, 2, 1)
        assert (tot.appeals_filed, tot.appeals_upheld, tot.satisfaction_rate) == (1, 1, 1.0)

    async def test_an_unanswered_appeal_leaves_the_verdicts_counted(self, empty: Db) -> None:
        """No decision within the 30-day appeal wait: closed appeal_unanswered, pending until then."""
        s = await self.dispatched(empty, "TJ5")
        await s.result("2026-03-09 10:00", "district-hexi")
        await s.review("2026-03-09 11:00")
        await s.callback("2026-03-10 10:00", "dissatisfied", "没修好")
        await s.contact("2026-03-10 11:00", "district-hexi")
        await s.result("2026-03-11 10:00", "district-hexi")
        await s.review("2026-03-11 11:00")
        await s.callback("2026-03-12 10:00", "dissatisfied", "还是没修好")
        await s.appeal("2026-03-13 10:00")  # the wait ends 04-12 10:00
        march = (await statistics(empty.pool, MARCH, now=t("2026-04-12 12:00"))).total
        assert (march.appeals_filed, march.appeals_pending, march.appeals_unanswered) == (1, 1, 0)
        await s.to("2026-04-12 12:00")
        assert s.order.status().outcome == "appeal_unanswered"
        april = (await statistics(empty.pool, Period.month(2026, 4), now=t("2026-04-12 12:00"))).total
        assert (april.appeals_unanswered, april.appeals_pending) == (1, 0)
        march = (await statistics(empty.pool, MARCH, now=NOW)).total
        assert (march.dissatisfied, march.dissatisfied_excused, march.appeals_pending) == (2, 0, 1)

    async def test_dispatch_reminders_are_not_lateness(self, empty: Db) -> None:
        """Received 03-06 09:30 and dispatched 03-09 10:00: a reminder (12:30) and an escalation (15:30),
        then the daily reminders (not counted); never late; 72.5 h from receipt to dispatch."""
        s = Story(OrderActivities(empty.pool), "TJ6", "2026-03-06 09:00")
        await s.write()
        await s.receive("2026-03-06 09:30")
        assert await self.late(empty, "2026-03-09 09:00") == {}
        await s.dispatch("2026-03-09 09:40", "2026-03-09 10:00", "district-hexi")
        tot = (await statistics(empty.pool, MARCH, now=NOW)).total
        assert (tot.dispatch_reminders, tot.dispatch_escalations, tot.dispatched) == (1, 1, 1)
        assert tot.median_dispatch_hours == 72.5

    async def test_a_return_opens_a_new_dispatch_window(self, empty: Db) -> None:
        """The lead returns the order; the platform takes past the new window to dispatch it again: the
        second window's reminder counts too; "dispatched" is the first dispatch only."""
        s = await self.dispatched(empty, "TJ7")
        await s.act("return_order", "2026-03-06 12:00", handler("district-hexi"), reason="不属于本区", basis="职责清单")
        await s.dispatch("2026-03-06 15:30", "2026-03-06 15:40", "dept-roads")  # reminder at 15:00
        tot = (await statistics(empty.pool, MARCH, now=NOW)).total
        assert (tot.dispatched, tot.median_dispatch_hours, tot.dispatch_reminders, tot.dispatch_escalations) == (
            1,
            1.0,
            1,
            0,
        )
        assert (tot.assigned, tot.returns) == (2, 1)

    async def test_lifecycle_1_orders_keep_their_facts(self, empty: Db) -> None:
        """An order started before lifecycle 2: its clock from the transfer, results straight to the city
        hotline (no review), two re-handling rounds; an appeal filed in the second excuses the last verdict
        only (the one that opened that round)."""
        s = Story(OrderActivities(empty.pool), "TJ8", "2026-03-06 09:00", lifecycle=1)
        await s.write()
        await s.receive("2026-03-06 09:30")
        await s.dispatch("2026-03-06 10:00", "2026-03-06 10:30", "district-hexi")
        await s.contact("2026-03-06 11:00", "district-hexi")
        await s.result("2026-03-09 10:00", "district-hexi")
        await s.callback("2026-03-10 10:00", "dissatisfied", "没修好")
        await s.contact("2026-03-10 11:00", "district-hexi")
        await s.result("2026-03-11 10:00", "district-hexi")
        await s.callback("2026-03-12 10:00", "dissatisfied", "还是没修好")
        await s.appeal("2026-03-13 10:00")
        await s.act("appeal_decision", "2026-03-16 10:00", HOTLINE, upheld=True)
        tot = (await statistics(empty.pool, MARCH, now=NOW)).total
        assert tot == Figures(
            received=1,
            received_on_time=1,
            dispatched=1,
            median_dispatch_hours=1.0,
            assigned=1,
            completed=1,
            completed_on_time=1,
            median_handling_hours=73.0,  # from the transfer, 03-06 09:00, as lifecycle 1 counted it
            callbacks=2,
            dissatisfied=2,
            dissatisfied_excused=1,
            rehandled=2,
            appeals_filed=1,
            appeals_upheld=1,
        )


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
        # receipt 10/11 x 40 + completion 7/8 x 30 + satisfaction (9 - 4 + 1)/9 x 30, less 1 late x 1
        assert center.score == round(100 * (10 / 11 * 40 + 7 / 8 * 30 + 6 / 9 * 30) / 100 - 1, 2)

    async def test_a_late_review_counts_against_the_platform_not_the_unit(self, empty: Db) -> None:
        """A result submitted 03-16 10:00 and still waiting for its review (due 13:00) at the month's end:
        the order is late for the platform (-1 point), not for the unit, whose clock stopped before its
        deadline (03-17 00:00) passed."""
        s = await TestLifecycle2.dispatched(empty, "TJ9")
        await s.result("2026-03-16 10:00", "district-hexi")
        report = await assessment(empty.pool, MARCH, now=NOW)
        scores = {s.org: s for s in report.scores}
        assert (scores["center"].figures.late_at_end, scores["center"].late_deduction) == (1, 1.0)
        hexi = scores["district-hexi"]
        assert (hexi.figures.late_at_end, hexi.late_deduction, hexi.score) == (0, 0.0, 100.0)

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
        assert data.before.received == 2  # I R
        # late during March: B's receipt and D's review ('-', the platform's), B's completion (nankai),
        # D's completion (dept-lighting); P's completion was forgiven
        assert {(x.unit, x.during, x.at_end) for x in data.late_by_unit} == {
            ("district-nankai", 1, 1),
            ("dept-lighting", 1, 0),
            (NO_UNIT, 2, 0),
        }
        assert data.late_orders_total == 2
        assert {(x.order_no, x.deadline) for x in data.late_orders} == {
            ("TJB", "receipt"),
            ("TJB", "completion"),
            ("TJD", "completion"),
            ("TJD", "result_review_1"),
        }
        assert [(x.order_no, x.round, x.note, x.appeal, x.excused) for x in data.dissatisfied] == [
            ("TJF", 0, f"{REDACTED}说暖气仍不热，请回电{REDACTED}", "rejected", False),
            ("TJE", 0, "诉求超出职责范围", "upheld", True),
            ("TJF", 1, "仍不达标", "rejected", False),
            ("TJD", 0, "灯还是不亮", "moot", False),
            ("TJL", 0, "噪音依旧", "filed", False),
            ("TJL", 1, "还是吵", "filed", False),
        ]
        assert data.dissatisfied_total == 6
        assert data.names["district-hexi"] == "河西区城市管理委员会"

    async def test_a_confidential_reporter_never_appears(self, march: Db) -> None:
        """F's reporter asked for confidentiality: neither the name nor the phone is in any text shown."""
        data = await bulletin_data(march.pool, MARCH, now=NOW)
        dumped = data.model_dump_json()
        name, phone = F_REPORTER
        assert name not in dumped
        assert phone not in dumped
        assert {x.subject for x in data.dissatisfied if x.order_no == "TJF"} == {f"{REDACTED}家暖气不热"}

    async def test_an_unanswered_appeal_and_its_verdicts(self, march: Db) -> None:
        """R's appeal went unanswered in March: its February verdicts stay dissatisfied (not excused)."""
        february = await bulletin_data(march.pool, Period.month(2026, 2), now=NOW)
        r = [(x.round, x.appeal, x.excused) for x in february.dissatisfied if x.order_no == "TJR"]
        assert r == [(0, "unanswered", False), (1, "unanswered", False)]
        assert (february.current.dissatisfied, february.current.dissatisfied_excused) == (2, 0)


async def test_a_median_taken_in_python_equals_postgres(empty: Db) -> None:
    """Per-group medians are taken in Python from the hours PostgreSQL hands over: the same number as
    its percentile_cont(0.5), to the last bit."""
    rng = random.Random(7)
    samples = [[], [2.5], [1.0, 4.0], [0.1, 0.2, 0.7]] + [
        [rng.uniform(0, 500) for _ in range(rng.randrange(1, 60))] for _ in range(50)
    ]
    for values in samples:
        expected = await empty.pool.fetchval(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM unnest($1::float8[]) AS x", values
        )
        assert median(values) == expected, values


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
