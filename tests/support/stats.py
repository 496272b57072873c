"""The March 2026 stories: order runs driven through the domain rules at chosen instants and
recorded by the real `record_order` activity after every step, as the workflow records them, in a
database of their own; and the figures of March counted by hand from their notes.

Used by the statistics, assessment and bulletin tests (`tests/activities/test_stats.py`,
`tests/starter/test_stats_cmd.py`, `tests/starter/test_bulletin.py`): a module imports the
`march` and `empty` fixtures it uses.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import asyncpg
import pytest

from activities.orders import OrderActivities
from activities.store import calendar_store
from activities.store.calendar_data import package_calendar
from activities.store.db import apply_migrations, create_pool
from activities.store.reference import seed_organisations
from domain.assessment import Figures, Period
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
