"""Statistics against real order runs: each driven through the domain rules at chosen instants and
recorded by the real `record_order` activity after every step, as the workflow records it.

The database is this module's own (created on the session's server): other tests write orders into
the shared one, which would change every count here. Each story below says what it contributes to
March 2026; the expected figures are counted by hand from those notes.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import asyncpg
import pytest

from activities import calendar_store
from activities.calendar_data import package_calendar
from activities.db import apply_migrations, create_pool
from activities.orders import OrderActivities
from activities.reference import seed_organisations
from activities.stats import (
    NO_UNIT,
    StatsError,
    assessment,
    bulletin_data,
    statistics,
)
from domain.assessment import Figures, Grouping, Period, SubjectGroup
from domain.models import NewOrder, Phase
from domain.order import Order
from domain.records import NumberedEntry, OrderRecord
from domain.rulebook import rulebook_for
from workers.pg import EmbeddedPostgres

CST = timezone(timedelta(hours=8))
CAL = package_calendar()

MARCH = Period.month(2026, 3)
#: The instant the figures are asked for: "now" for open_now and late_now.
NOW = datetime(2026, 4, 10, 12, 0, tzinfo=CST)


def t(s: str) -> datetime:
    """`2026-03-06 09:00` -> that instant in Asia/Shanghai."""
    return datetime.fromisoformat(f"{s}+08:00")


def actor(org: str, role: str, person: str = "王工") -> dict[str, str]:
    return {"org": org, "person": person, "role": role}


CENTER = actor("center", "operator")
DEPT_HOTLINE = actor("dept-hotline", "supervisor", "李处")
UTILITIES = actor("utilities", "operator")
UTILITIES_SUPERVISOR = actor("utilities", "supervisor", "赵局")
HOTLINE = actor("hotline", "hotline", "12345坐席")


def handler(org: str) -> dict[str, str]:
    return actor(org, "handler", "张科")


# -- databases of the module's own ---------------------------------------------------------------


async def new_database(server: EmbeddedPostgres, prefix: str = "stats") -> str:
    """A new database on ``server``, migrated, with organisations and the calendar seeded."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(server.url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = server.url.rsplit("/", 1)[0] + f"/{name}"
    conn = await asyncpg.connect(url)
    try:
        await apply_migrations(conn)
        await seed_organisations(conn)
        await calendar_store.seed_from_package(conn)
    finally:
        await conn.close()
    return url


@dataclass
class Db:
    url: str
    pool: asyncpg.Pool


class Story:
    """One order run on a simulated clock; recorded after every change, as `WorkOrder` records it."""

    def __init__(
        self,
        acts: OrderActivities,
        order_no: str,
        dispatched_at: str | datetime,
        *,
        tier: str = "normal",
        category: str = "general",
        district: str = "hexi",
        subject: str = "路灯不亮",
    ) -> None:
        when = t(dispatched_at) if isinstance(dispatched_at, str) else dispatched_at
        self.acts = acts
        self.new = NewOrder.model_validate(
            {
                "order_no": order_no,
                "tier": tier,
                "category": category,
                "dispatched_at": when.isoformat(),
                "reporter": {"name": "张三", "phone": "13800000000"},
                "location": {"district": district, "address": "友谊路1号"},
                "subject": subject,
            }
        )
        self.run_id = f"run-{order_no}-{uuid.uuid4().hex[:8]}"
        self.now = when
        self.order = Order(self.new, rulebook_for(when), CAL, when)
        general = category == "general"
        self.operator = CENTER if general else UTILITIES
        self.supervisor = DEPT_HOTLINE if general else UTILITIES_SUPERVISOR
        self._written = -1
        self._entries = 0
        self._outbox = 0

    async def write(self) -> None:
        o = self.order
        if o.revision == self._written:
            return
        entries = [NumberedEntry(seq=i, entry=e) for i, e in enumerate(o.timeline[self._entries :], self._entries)]
        await self.acts.record_order(
            OrderRecord(
                run_id=self.run_id,
                workflow_id=self.new.workflow_id,
                revision=o.revision,
                order=self.new,
                status=o.status(),
                units=o.units(),
                entries=entries,
                outbox=o.outbox[self._outbox :],
                archive=o.phase is Phase.CLOSED,
            )
        )
        self._written, self._entries, self._outbox = o.revision, len(o.timeline), len(o.outbox)

    async def to(self, when: str | datetime) -> None:
        """Move the clock, firing (and recording) every timer on the way at its own instant."""
        target = t(when) if isinstance(when, str) else when
        assert target >= self.now
        for _ in range(1000):
            nxt = self.order.next_timer()
            if nxt is None or nxt[0] > target:
                break
            self.order.fire_due(max(nxt[0], self.now))
            await self.write()
        self.now = target

    async def act(self, name: str, when: str, who: dict[str, str], **fields: Any) -> None:
        await self.to(when)
        assert self.order.act(name, {"actor": who, **fields}, self.now)
        await self.write()

    # the usual steps

    async def receive(self, when: str) -> None:
        await self.act("receive", when, self.operator)

    async def dispatch(self, propose: str, review: str, lead: str) -> None:
        await self.act("propose", propose, self.operator, lead_unit=lead, assisting_units=[], opinion=f"{lead}牵头")
        await self.act("review", review, self.supervisor, approved=True)

    async def contact(self, when: str, unit: str) -> None:
        await self.act("contact_reporter", when, handler(unit), at=t(when).isoformat(), method="phone")

    async def result(self, when: str, unit: str) -> None:
        await self.act("submit_result", when, handler(unit), result="已处理", reporter_informed_at=t(when).isoformat())

    async def callback(self, when: str, verdict: str, note: str = "") -> None:
        await self.act("callback", when, HOTLINE, verdict=verdict, note=note)


async def seed_march(pool: asyncpg.Pool) -> None:
    """The stories of March 2026 (and around it). Per story: what it adds to March."""
    acts = OrderActivities(pool)

    # A: received on time; district-hexi completes on time after 73 h; satisfied.
    a = Story(acts, "TJA", "2026-03-06 09:00", district="hexi")
    await a.write()
    await a.receive("2026-03-06 09:30")  # receipt due 12:00
    await a.dispatch("2026-03-06 10:00", "2026-03-06 10:30", "district-hexi")
    await a.contact("2026-03-06 11:00", "district-hexi")
    await a.result("2026-03-09 10:00", "district-hexi")  # completion due 03-17 00:00
    await a.callback("2026-03-11 10:00", "satisfied")

    # B: received late (13:00 > 12:00); district-nankai never replies: late since 03-17, still open.
    b = Story(acts, "TJB", "2026-03-06 09:00", district="nankai")
    await b.write()
    await b.receive("2026-03-06 13:00")
    await b.dispatch("2026-03-06 13:30", "2026-03-06 14:00", "district-nankai")
    await b.contact("2026-03-06 14:30", "district-nankai")

    # C: dept-sanitation asks for an extension (03-18 -> 03-25), approved, completes in it (360 h).
    c = Story(acts, "TJC", "2026-03-09 10:00", district="hedong")
    await c.write()
    await c.receive("2026-03-09 10:15")
    await c.dispatch("2026-03-09 10:30", "2026-03-09 11:00", "dept-sanitation")
    await c.contact("2026-03-09 14:00", "dept-sanitation")
    await c.act(
        "request_extension",
        "2026-03-16 10:00",
        handler("dept-sanitation"),
        reason="需采购设备",
        requested_due=t("2026-03-25 00:00").isoformat(),
        reporter_notified_at=t("2026-03-16 09:30").isoformat(),
        written_reply="申请延期至3月25日",
    )
    await c.act(
        "extension_decision", "2026-03-17 10:00", HOTLINE, approved=True, approved_due=t("2026-03-25 00:00").isoformat()
    )
    await c.result("2026-03-24 10:00", "dept-sanitation")
    await c.callback("2026-03-26 10:00", "basically_satisfied")

    # D: urgent; dept-lighting's extension refused, completes late (due 03-13, 139.5 h);
    # dissatisfied, re-handled (round 1), then satisfied.
    d = Story(acts, "TJD", "2026-03-10 14:30", tier="urgent", district="heping")
    await d.write()
    await d.receive("2026-03-10 14:40")  # due 17:30
    await d.dispatch("2026-03-10 15:00", "2026-03-10 15:10", "dept-lighting")
    await d.contact("2026-03-10 15:30", "dept-lighting")
    await d.act(
        "request_extension",
        "2026-03-11 10:00",
        handler("dept-lighting"),
        reason="需更换电缆",
        requested_due=t("2026-03-20 00:00").isoformat(),
        reporter_notified_at=t("2026-03-11 09:30").isoformat(),
        written_reply="申请延期",
    )
    await d.act("extension_decision", "2026-03-12 10:00", HOTLINE, approved=False, note="不予延期")
    await d.result("2026-03-16 10:00", "dept-lighting")
    await d.callback("2026-03-18 10:00", "dissatisfied", "灯还是不亮")
    await d.contact("2026-03-19 10:00", "dept-lighting")
    await d.result("2026-03-20 10:00", "dept-lighting")  # re-handling due 03-21 00:00
    await d.callback("2026-03-23 10:00", "satisfied")

    # E: dept-roads returns it within 8 h; district-hexi completes on time (49 h); dissatisfied,
    # the platform appeals, the appeal is upheld: the verdict is excused.
    e = Story(acts, "TJE", "2026-03-11 09:00", district="hexi", subject="道路破损")
    await e.write()
    await e.receive("2026-03-11 09:10")
    await e.dispatch("2026-03-11 09:20", "2026-03-11 10:00", "dept-roads")
    await e.act("return_order", "2026-03-11 12:00", handler("dept-roads"), reason="不属于本处职责", basis="三定方案")
    await e.dispatch("2026-03-11 13:00", "2026-03-11 14:00", "district-hexi")
    await e.contact("2026-03-11 14:30", "district-hexi")
    await e.result("2026-03-13 10:00", "district-hexi")
    await e.callback("2026-03-16 10:00", "dissatisfied", "诉求超出职责范围")
    await e.act("file_appeal", "2026-03-17 10:00", CENTER, reason="诉求超出职责", materials=["说明"])
    await e.act("appeal_decision", "2026-03-19 10:00", HOTLINE, upheld=True)

    # F: heating (utilities platform), very urgent; district-xiqing on time (29 h); dissatisfied,
    # appealed, the appeal rejected: the verdict counts.
    f = Story(acts, "TJF", "2026-03-12 10:00", tier="very_urgent", category="heating", district="xiqing")
    await f.write()
    await f.receive("2026-03-12 10:30")
    await f.dispatch("2026-03-12 10:40", "2026-03-12 11:00", "district-xiqing")
    await f.contact("2026-03-12 11:30", "district-xiqing")
    await f.result("2026-03-13 15:00", "district-xiqing")  # due 03-14 00:00
    await f.callback("2026-03-16 09:00", "dissatisfied", "暖气仍不热")
    await f.act("file_appeal", "2026-03-16 11:00", UTILITIES, reason="已达标", materials=["测温记录"])
    await f.act("appeal_decision", "2026-03-18 10:00", HOTLINE, upheld=False)

    # G: gas, extra urgent, withdrawn 20 minutes in: received, receipt undecided, nothing else.
    g = Story(acts, "TJG", "2026-03-20 22:00", tier="extra_urgent", category="gas", district="beichen")
    await g.write()
    await g.act("withdraw", "2026-03-20 22:20", HOTLINE, reason="市民撤诉")

    # H: received on time, returned to the city hotline: no unit.
    h = Story(acts, "TJH", "2026-03-25 09:00", district="jinnan")
    await h.write()
    await h.receive("2026-03-25 09:10")
    await h.act("return_to_hotline", "2026-03-25 10:00", CENTER, reason="不属于城管职责")

    # I: dispatched in February; district-dongli completes on 03-02 (97 h); satisfied 03-04.
    i = Story(acts, "TJI", "2026-02-26 09:00", district="dongli")
    await i.write()
    await i.receive("2026-02-26 09:20")
    await i.dispatch("2026-02-26 09:30", "2026-02-26 10:00", "district-dongli")
    await i.contact("2026-02-26 10:30", "district-dongli")
    await i.result("2026-03-02 10:00", "district-dongli")  # due 03-06 00:00 (02-28 is worked)
    await i.callback("2026-03-04 10:00", "satisfied")

    # J: dispatched 03-31 23:30, received 04-01 on time; never proposed: late since its completion
    # deadline 04-10 00:00 passed, with no unit (the platform's).
    j = Story(acts, "TJJ", "2026-03-31 23:30", district="hongqiao")
    await j.write()
    await j.receive("2026-04-01 09:30")  # due 04-01 12:00

    # K: dispatched Sun 2026-03-01 00:30 local, given in UTC (02-28 16:30Z); unit-sanitation-center
    # completes after 105.5 h; no callback: closes no_callback 04-04.
    k = Story(acts, "TJK", datetime(2026, 2, 28, 16, 30, tzinfo=UTC), district="hebei")
    await k.write()
    await k.receive("2026-03-02 09:05")  # due 03-02 12:00
    await k.dispatch("2026-03-02 09:10", "2026-03-02 09:30", "unit-sanitation-center")
    await k.contact("2026-03-02 10:00", "unit-sanitation-center")
    await k.result("2026-03-05 10:00", "unit-sanitation-center")

    # L: very urgent; district-binhai on time (24 h); dissatisfied three times: two re-handling
    # rounds, then closed dissatisfied.
    lo = Story(acts, "TJL", "2026-03-16 10:00", tier="very_urgent", district="binhai")
    await lo.write()
    await lo.receive("2026-03-16 10:10")
    await lo.dispatch("2026-03-16 10:20", "2026-03-16 10:30", "district-binhai")
    await lo.contact("2026-03-16 11:00", "district-binhai")
    await lo.result("2026-03-17 10:00", "district-binhai")
    await lo.callback("2026-03-18 10:00", "dissatisfied", "噪音依旧")
    await lo.contact("2026-03-19 09:00", "district-binhai")
    await lo.result("2026-03-19 15:00", "district-binhai")
    await lo.callback("2026-03-20 10:00", "dissatisfied", "还是吵")
    await lo.contact("2026-03-23 09:00", "district-binhai")
    await lo.result("2026-03-23 15:00", "district-binhai")
    await lo.callback("2026-03-25 10:00", "dissatisfied", "没有解决")

    # M: April only; district-wuqing handling, due 04-11: open, not late.
    m = Story(acts, "TJM", "2026-04-01 10:00", district="wuqing")
    await m.write()
    await m.receive("2026-04-01 10:30")
    await m.dispatch("2026-04-01 10:40", "2026-04-01 11:00", "district-wuqing")

    # N: dept-landscape asks for an extension on 03-31, approved 04-02, completes 04-08: in March
    # only received, assigned and the request; awaiting its callback now.
    n = Story(acts, "TJN", "2026-03-26 09:00", district="jinghai")
    await n.write()
    await n.receive("2026-03-26 09:30")
    await n.dispatch("2026-03-26 09:40", "2026-03-26 10:00", "dept-landscape")
    await n.contact("2026-03-26 11:00", "dept-landscape")
    await n.act(
        "request_extension",
        "2026-03-31 10:00",
        handler("dept-landscape"),
        reason="需协调",
        requested_due=t("2026-04-15 00:00").isoformat(),
        reporter_notified_at=t("2026-03-31 09:00").isoformat(),
        written_reply="申请延期",
    )
    await n.act(
        "extension_decision", "2026-04-02 10:00", HOTLINE, approved=True, approved_due=t("2026-04-15 00:00").isoformat()
    )
    await n.result("2026-04-08 10:00", "dept-landscape")

    for story in (a, b, c, d, e, f, g, h, i, j, k, lo, m, n):
        await story.to(NOW)

    async with pool.acquire() as conn:
        await conn.execute("INSERT INTO training_missed (month, org) VALUES ('2026-03-01', 'district-nankai')")


@pytest.fixture(scope="module")
async def march(embedded_pg: EmbeddedPostgres) -> AsyncIterator[Db]:
    """A database of this module's own with the March 2026 stories recorded."""
    url = await new_database(embedded_pg)
    pool = await create_pool(url, max_size=4)
    await seed_march(pool)
    yield Db(url, pool)
    await pool.close()


@pytest.fixture
async def empty(embedded_pg: EmbeddedPostgres) -> AsyncIterator[Db]:
    """A migrated database of this test's own with no orders."""
    url = await new_database(embedded_pg)
    pool = await create_pool(url, max_size=4)
    yield Db(url, pool)
    await pool.close()


# -- the hand counts -----------------------------------------------------------------------------

MARCH_TOTAL = Figures(
    received=12,  # A B C D E F G H J K L N (I is February's, M April's)
    received_on_time=10,  # all but B (late) and G (withdrawn before its receipt was due)
    received_late=1,  # B
    assigned=10,  # A B C D E(2) F K L N
    completed=8,  # A C D E F I K L
    completed_on_time=7,  # all but D
    median_handling_hours=85.0,  # 24 29 49 73 | 97 105.5 139.5 360
    returns=1,  # E: dept-roads
    extensions_requested=3,  # C D N
    extensions_approved=1,  # C (N's approval is April's)
    callbacks=10,  # A C D(2) E F I L(3)
    dissatisfied=6,  # D E F L(3)
    dissatisfied_excused=1,  # E
    rehandled=5,  # D E F L(2)
    appeals_filed=2,  # E F
    appeals_upheld=1,  # E
    late_at_end=1,  # B
    open_now=4,  # B J M N
    late_now=2,  # B J
)

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
    from activities.stats import inquiry_statistics

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
