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
from typing import Any, Final

import asyncpg
import pytest

from activities.orders import OrderActivities
from activities.store import calendar_store
from activities.store.calendar_data import package_calendar
from activities.store.db import apply_migrations, create_pool
from activities.store.reference import seed_organisations
from domain.assessment import Figures, Period
from domain.models import NewOrder, Phase
from domain.order import LIFECYCLE, Order
from domain.records import NumberedEntry, OrderRecord
from domain.rulebook import LEGACY_TIANJIN_2021, rulebook_for
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
    """One order run on a simulated clock; recorded after every change, as `WorkOrder` records it.

    New orders follow lifecycle 2 (the platform reviews results, forwards extensions; the units'
    clock starts at their dispatch); ``lifecycle=1`` drives an order started before it, with the
    rulebook such orders keep.
    """

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
        reporter: tuple[str, str] = ("张三", "13800000000"),
        confidential: bool = False,
        lifecycle: int = LIFECYCLE,
    ) -> None:
        when = t(dispatched_at) if isinstance(dispatched_at, str) else dispatched_at
        self.acts = acts
        self.new = NewOrder.model_validate(
            {
                "order_no": order_no,
                "tier": tier,
                "category": category,
                "dispatched_at": when.isoformat(),
                "reporter": {"name": reporter[0], "phone": reporter[1], "confidential": confidential},
                "location": {"district": district, "address": "友谊路1号"},
                "subject": subject,
            }
        )
        self.run_id = f"run-{order_no}-{uuid.uuid4().hex[:8]}"
        self.now = when
        rulebook = rulebook_for(when) if lifecycle >= LIFECYCLE else LEGACY_TIANJIN_2021
        self.order = Order(self.new, rulebook, CAL, when, lifecycle=lifecycle)
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

    async def result(self, when: str, unit: str, *materials: str) -> None:
        await self.act(
            "submit_result",
            when,
            handler(unit),
            result="已处理",
            reporter_informed_at=t(when).isoformat(),
            appeal_materials=list(materials),
        )

    async def review(self, when: str, *, sent_back: str = "") -> None:
        """The platform's review of the result waiting (lifecycle 2): approved, or sent back with the words."""
        await self.act("review_result", when, self.operator, approved=not sent_back, comment=sent_back)

    async def extension(self, when: str, unit: str, due: str, notified: str) -> None:
        await self.act(
            "request_extension",
            when,
            handler(unit),
            reason="需协调",
            requested_due=t(due).isoformat(),
            reporter_notified_at=t(notified).isoformat(),
            written_reply=f"申请延期至{due}",
        )

    async def forward(self, when: str, *, declined: str = "") -> None:
        """The platform forwards the pending extension request to the city hotline, or declines it."""
        await self.act("forward_extension", when, self.operator, forward=not declined, note=declined)

    async def decide_extension(self, when: str, due: str | None) -> None:
        """The city hotline approves the pending extension until ``due``, or refuses it (None)."""
        if due is None:
            await self.act("extension_decision", when, HOTLINE, approved=False, note="不予延期")
        else:
            await self.act("extension_decision", when, HOTLINE, approved=True, approved_due=t(due).isoformat())

    async def callback(self, when: str, verdict: str, note: str = "") -> None:
        await self.act("callback", when, HOTLINE, verdict=verdict, note=note)

    async def appeal(self, when: str) -> None:
        await self.act("file_appeal", when, self.operator, reason="诉求超出职责", materials=["说明"])


#: The confidential reporter of story F, whose name and phone the callback note and the subject carry.
F_REPORTER: Final = ("李桂兰", "13912345678")


async def seed_march(pool: asyncpg.Pool) -> None:
    """The stories of March 2026 (and around it), all lifecycle 2. Per story: what it adds to March.

    Times are local (Asia/Shanghai). "dispatch" is the approval of the proposal (the units' clock
    starts there); "review" is the platform's review of a unit's result, due 3 hours after the
    submission in the working period (the receipt window's arithmetic).
    """
    acts = OrderActivities(pool)

    # A: received on time; dispatched 1 h after the receipt; district-hexi completes on time 71.5 h
    # after its dispatch; the result reviewed in 1 h; satisfied.
    a = Story(acts, "TJA", "2026-03-06 09:00", district="hexi")
    await a.write()
    await a.receive("2026-03-06 09:30")  # receipt due 12:00
    await a.dispatch("2026-03-06 10:00", "2026-03-06 10:30", "district-hexi")  # completion due 03-17 00:00
    await a.contact("2026-03-06 11:00", "district-hexi")
    await a.result("2026-03-09 10:00", "district-hexi")
    await a.review("2026-03-09 11:00")
    await a.callback("2026-03-11 10:00", "satisfied")

    # B: received late (13:00 > 12:00: late for no unit 12:00-13:00); dispatched 1 h later;
    # district-nankai never replies: late since 03-17 00:00, still open.
    b = Story(acts, "TJB", "2026-03-06 09:00", district="nankai")
    await b.write()
    await b.receive("2026-03-06 13:00")
    await b.dispatch("2026-03-06 13:30", "2026-03-06 14:00", "district-nankai")
    await b.contact("2026-03-06 14:30", "district-nankai")

    # C: dispatched 0.75 h after the receipt; dept-sanitation asks for an extension (03-18 -> 03-25),
    # the platform forwards it, the city hotline approves before the old deadline; completes in it
    # (359 h); the review takes 2 h; basically satisfied.
    c = Story(acts, "TJC", "2026-03-09 10:00", district="hedong")
    await c.write()
    await c.receive("2026-03-09 10:15")
    await c.dispatch("2026-03-09 10:30", "2026-03-09 11:00", "dept-sanitation")  # due 03-18 00:00
    await c.contact("2026-03-09 14:00", "dept-sanitation")
    await c.extension("2026-03-16 10:00", "dept-sanitation", "2026-03-25 00:00", "2026-03-16 09:30")
    await c.forward("2026-03-16 11:00")
    await c.decide_extension("2026-03-17 10:00", "2026-03-25 00:00")
    await c.result("2026-03-24 10:00", "dept-sanitation")
    await c.review("2026-03-24 12:00")
    await c.callback("2026-03-26 10:00", "basically_satisfied")

    # D: urgent; dispatched 0.5 h after the receipt; dept-lighting's extension forwarded and refused;
    # completes late (due 03-13 00:00, 139 h); the platform reviews 5 h after the submission (due
    # 13:10: late, for no unit); dissatisfied, re-handled (round 1); the re-handling result
    # accepted, the platform appeals while the callback is awaited; satisfied: the appeal is moot.
    d = Story(acts, "TJD", "2026-03-10 14:30", tier="urgent", district="heping")
    await d.write()
    await d.receive("2026-03-10 14:40")  # due 17:30
    await d.dispatch("2026-03-10 14:50", "2026-03-10 15:10", "dept-lighting")  # due 03-13 00:00
    await d.contact("2026-03-10 15:30", "dept-lighting")
    await d.extension("2026-03-11 10:00", "dept-lighting", "2026-03-20 00:00", "2026-03-11 09:30")
    await d.forward("2026-03-11 11:00")
    await d.decide_extension("2026-03-12 10:00", None)
    await d.result("2026-03-16 10:10", "dept-lighting")
    await d.review("2026-03-16 15:10")
    await d.callback("2026-03-18 10:00", "dissatisfied", "灯还是不亮")  # re-handling due 03-21 00:00
    await d.contact("2026-03-19 10:00", "dept-lighting")
    await d.result("2026-03-20 10:00", "dept-lighting", "检修记录")
    await d.review("2026-03-20 11:00")
    await d.appeal("2026-03-20 15:00")
    await d.callback("2026-03-23 10:00", "satisfied")

    # E: dispatched to dept-roads 0.5 h after the receipt, which returns it within 8 h;
    # district-hexi completes on time (44 h after its own dispatch), reviewed in 0.5 h;
    # dissatisfied; re-handled, the result accepted, the platform appeals while the callback is
    # awaited; upheld: the verdict that opened the round is excused.
    e = Story(acts, "TJE", "2026-03-11 09:00", district="hexi", subject="道路破损")
    await e.write()
    await e.receive("2026-03-11 09:30")
    await e.dispatch("2026-03-11 09:40", "2026-03-11 10:00", "dept-roads")
    await e.act("return_order", "2026-03-11 12:00", handler("dept-roads"), reason="不属于本处职责", basis="三定方案")
    await e.dispatch("2026-03-11 13:00", "2026-03-11 14:00", "district-hexi")  # due 03-19 00:00
    await e.contact("2026-03-11 14:30", "district-hexi")
    await e.result("2026-03-13 10:00", "district-hexi")
    await e.review("2026-03-13 10:30")
    await e.callback("2026-03-16 10:00", "dissatisfied", "诉求超出职责范围")  # re-handling due 03-25
    await e.contact("2026-03-17 09:00", "district-hexi")
    await e.result("2026-03-17 10:00", "district-hexi", "职责说明")
    await e.review("2026-03-17 11:00")
    await e.appeal("2026-03-17 14:00")
    await e.act("appeal_decision", "2026-03-19 10:00", HOTLINE, upheld=True)

    # F: heating (utilities platform), very urgent, a confidential reporter; dispatched 0.5 h after
    # the receipt; district-xiqing on time (28 h); dissatisfied twice (round 0 and the re-handling's),
    # the platform appeals in the appeal window; rejected: both verdicts count.
    f = Story(
        acts,
        "TJF",
        "2026-03-12 10:00",
        tier="very_urgent",
        category="heating",
        district="xiqing",
        subject=f"{F_REPORTER[0]}家暖气不热",
        reporter=F_REPORTER,
        confidential=True,
    )
    await f.write()
    await f.receive("2026-03-12 10:30")
    await f.dispatch("2026-03-12 10:40", "2026-03-12 11:00", "district-xiqing")  # due 03-14 00:00
    await f.contact("2026-03-12 11:30", "district-xiqing")
    await f.result("2026-03-13 15:00", "district-xiqing")
    await f.review("2026-03-13 16:30")
    await f.callback("2026-03-16 09:00", "dissatisfied", f"{F_REPORTER[0]}说暖气仍不热，请回电{F_REPORTER[1]}")
    await f.contact("2026-03-16 11:00", "district-xiqing")
    await f.result("2026-03-17 10:00", "district-xiqing", "测温记录")  # re-handling due 03-18 00:00
    await f.review("2026-03-17 11:00")
    await f.callback("2026-03-18 09:30", "dissatisfied", "仍不达标")  # appeal window until 03-24 00:00
    await f.appeal("2026-03-18 11:00")
    await f.act("appeal_decision", "2026-03-19 10:00", HOTLINE, upheld=False)

    # G: gas, extra urgent, withdrawn 20 minutes in: received, receipt undecided, nothing else.
    g = Story(acts, "TJG", "2026-03-20 22:00", tier="extra_urgent", category="gas", district="beichen")
    await g.write()
    await g.act("withdraw", "2026-03-20 22:20", HOTLINE, reason="市民撤诉")

    # H: received on time, never dispatched: the dispatch reminder (12:10) and escalation (15:10)
    # to the platform, for no unit and not late; returned to the city hotline the next day.
    h = Story(acts, "TJH", "2026-03-25 09:00", district="jinnan")
    await h.write()
    await h.receive("2026-03-25 09:10")
    await h.act("return_to_hotline", "2026-03-26 10:00", CENTER, reason="不属于城管职责")

    # I: dispatched in February (0.5 h after the receipt); district-dongli completes on 03-02 (96 h),
    # reviewed in 0.5 h; satisfied 03-04.
    i = Story(acts, "TJI", "2026-02-26 09:00", district="dongli")
    await i.write()
    await i.receive("2026-02-26 09:30")
    await i.dispatch("2026-02-26 09:40", "2026-02-26 10:00", "district-dongli")  # due 03-06 00:00
    await i.contact("2026-02-26 10:30", "district-dongli")
    await i.result("2026-03-02 10:00", "district-dongli")
    await i.review("2026-03-02 10:30")
    await i.callback("2026-03-04 10:00", "satisfied")

    # J: dispatched 03-31 23:30, received 04-01 on time; never dispatched: in April the dispatch
    # reminder (12:30) and escalation (15:30), daily reminders after; never late.
    j = Story(acts, "TJJ", "2026-03-31 23:30", district="hongqiao")
    await j.write()
    await j.receive("2026-04-01 09:30")  # due 04-01 12:00

    # K: dispatched Sun 2026-03-01 00:30 local, given in UTC (02-28 16:30Z); received 03-02 09:00,
    # dispatched 0.5 h later; unit-sanitation-center asks for an extension that waits at the
    # platform until its result makes it moot; the platform sends the result back (reviewed in
    # 0.25 h), accepts the next one (2.5 h): completed 96.5 h after the dispatch; no callback:
    # closes no_callback 04-05.
    k = Story(acts, "TJK", datetime(2026, 2, 28, 16, 30, tzinfo=UTC), district="hebei")
    await k.write()
    await k.receive("2026-03-02 09:00")  # due 03-02 12:00
    await k.dispatch("2026-03-02 09:10", "2026-03-02 09:30", "unit-sanitation-center")  # due 03-11 00:00
    await k.contact("2026-03-02 10:00", "unit-sanitation-center")
    await k.extension("2026-03-04 10:00", "unit-sanitation-center", "2026-03-20 00:00", "2026-03-04 09:30")
    await k.result("2026-03-05 10:00", "unit-sanitation-center")
    await k.review("2026-03-05 10:15", sent_back="缺少现场照片")
    await k.result("2026-03-06 10:00", "unit-sanitation-center")
    await k.review("2026-03-06 12:30")

    # L: very urgent; dispatched 1.5 h after the receipt; district-binhai on time (22.5 h), reviewed
    # in 2.5 h; dissatisfied, re-handled, dissatisfied again; the platform appeals in the appeal
    # window (03-24): pending at the end of March and now.
    lo = Story(acts, "TJL", "2026-03-16 10:00", tier="very_urgent", district="binhai")
    await lo.write()
    await lo.receive("2026-03-16 10:00")
    await lo.dispatch("2026-03-16 11:00", "2026-03-16 11:30", "district-binhai")  # due 03-18 00:00
    await lo.contact("2026-03-16 12:00", "district-binhai")
    await lo.result("2026-03-17 10:00", "district-binhai")
    await lo.review("2026-03-17 12:30")
    await lo.callback("2026-03-18 10:00", "dissatisfied", "噪音依旧")  # re-handling due 03-20 00:00
    await lo.contact("2026-03-19 09:00", "district-binhai")
    await lo.result("2026-03-19 15:00", "district-binhai")
    await lo.review("2026-03-19 16:00")
    await lo.callback("2026-03-20 10:00", "dissatisfied", "还是吵")  # appeal window until 03-26 00:00
    await lo.appeal("2026-03-24 10:00")  # appeal wait until 04-23 10:00

    # M: April only; district-wuqing handling, due 04-11: open, not late.
    m = Story(acts, "TJM", "2026-04-01 10:00", district="wuqing")
    await m.write()
    await m.receive("2026-04-01 10:30")
    await m.dispatch("2026-04-01 10:40", "2026-04-01 11:00", "district-wuqing")

    # N: dispatched 2 h after the receipt; dept-landscape asks for an extension on 03-31 (due 04-04),
    # forwarded 04-01, approved 04-02; its result of 04-08 10:00 waits for the platform's review,
    # due 13:00: late now, for no unit (the unit's clock is stopped, not late).
    n = Story(acts, "TJN", "2026-03-26 09:00", district="jinghai")
    await n.write()
    await n.receive("2026-03-26 09:30")
    await n.dispatch("2026-03-26 11:00", "2026-03-26 11:30", "dept-landscape")  # due 04-04 00:00
    await n.contact("2026-03-26 13:00", "dept-landscape")
    await n.extension("2026-03-31 10:00", "dept-landscape", "2026-04-15 00:00", "2026-03-31 09:00")
    await n.forward("2026-04-01 09:30")
    await n.decide_extension("2026-04-02 10:00", "2026-04-15 00:00")
    await n.result("2026-04-08 10:00", "dept-landscape")

    # P: dispatched 0.5 h after the receipt; district-ninghe's first extension is declined by the
    # platform; its second is forwarded and approved after the old deadline (03-11 00:00) had passed:
    # the overdue mark is lifted (forgiven); completes in the approved time (408 h), reviewed in 1 h;
    # satisfied.
    p = Story(acts, "TJP", "2026-03-02 09:00", district="ninghe")
    await p.write()
    await p.receive("2026-03-02 09:00")
    await p.dispatch("2026-03-02 09:10", "2026-03-02 09:30", "district-ninghe")  # due 03-11 00:00
    await p.contact("2026-03-02 10:00", "district-ninghe")
    await p.extension("2026-03-04 10:00", "district-ninghe", "2026-03-13 00:00", "2026-03-04 09:30")
    await p.forward("2026-03-04 11:00", declined="理由不充分")
    await p.extension("2026-03-09 10:00", "district-ninghe", "2026-03-20 00:00", "2026-03-09 09:30")
    await p.forward("2026-03-09 11:00")
    await p.decide_extension("2026-03-11 10:00", "2026-03-20 00:00")
    await p.result("2026-03-19 09:30", "district-ninghe")
    await p.review("2026-03-19 10:30")
    await p.callback("2026-03-20 10:00", "satisfied")

    # R: February; district-jizhou completes, dissatisfied twice, the platform appeals on 02-12;
    # the city hotline never decides: closed appeal_unanswered on 03-14 10:00 (30 days).
    r = Story(acts, "TJR", "2026-02-02 09:00", district="jizhou")
    await r.write()
    await r.receive("2026-02-02 09:10")
    await r.dispatch("2026-02-02 09:20", "2026-02-02 09:40", "district-jizhou")  # due 02-11 00:00
    await r.contact("2026-02-02 10:00", "district-jizhou")
    await r.result("2026-02-04 10:00", "district-jizhou")
    await r.review("2026-02-04 11:00")
    await r.callback("2026-02-05 10:00", "dissatisfied", "没有解决")  # re-handling due 02-14 00:00
    await r.contact("2026-02-06 10:00", "district-jizhou")
    await r.result("2026-02-09 10:00", "district-jizhou")
    await r.review("2026-02-09 11:00")
    await r.callback("2026-02-10 10:00", "dissatisfied", "还是没有解决")  # appeal window until 02-14
    await r.appeal("2026-02-12 10:00")

    for story in (a, b, c, d, e, f, g, h, i, j, k, lo, m, n, p, r):
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
    received=13,  # A B C D E F G H J K L N P (I and R are February's, M April's)
    received_on_time=11,  # all but B (late) and G (withdrawn before its receipt was due)
    received_late=1,  # B
    dispatched=10,  # A B C D E F K L N P (I's first dispatch is February's)
    median_dispatch_hours=0.625,  # D E F K P 0.5 | C 0.75 | A B 1 | L 1.5 | N 2
    dispatch_reminders=1,  # H (J's are April's)
    dispatch_escalations=1,  # H
    assigned=11,  # A B C D E(2) F K L N P
    returns=1,  # E: dept-roads
    completed=9,  # A C D E F I K L P (N's result waits for review)
    completed_on_time=8,  # all but D; P's overdue mark was forgiven
    median_handling_hours=96.0,  # L 22.5 F 28 E 44 A 71.5 | I 96 | K 96.5 D 139 C 359 P 408
    results_reviewed=14,  # A C D(2) E(2) F(2) I K(2) L(2) P
    results_reviewed_late=1,  # D's first
    results_sent_back=1,  # K's first
    median_review_hours=1.0,  # K .25 E .5 I .5 A D E F L P 1 | F 1.5 C 2 K L 2.5 D 5
    extensions_requested=6,  # C D K N P(2)
    extensions_forwarded=3,  # C D P (N's is April's; K's never was)
    extensions_declined=1,  # P's first
    extensions_approved=2,  # C P (N's is April's)
    extensions_refused=1,  # D
    extensions_forgiven=1,  # P
    extensions_ended=1,  # K: its result came first
    callbacks=11,  # A C D(2) E F(2) I L(2) P
    dissatisfied=6,  # D E F(2) L(2)
    dissatisfied_excused=1,  # E
    rehandled=4,  # D E F L
    appeals_filed=4,  # D E F L (R's is February's)
    appeals_upheld=1,  # E
    appeals_rejected=1,  # F
    appeals_unanswered=1,  # R
    appeals_moot=1,  # D: satisfied while it waited
    appeals_pending=1,  # L
    late_at_end=1,  # B
    open_now=5,  # B J L M N
    late_now=2,  # B (completion), N (result review)
)
