"""Benchmark (`make bench`): statistics over one million order runs, next to a plain count.

A database of its own gets 1,000,000 projection rows spread over 2025, written by set-based SQL
(`INSERT … SELECT generate_series`) in batches on two connections, so the triggers of migration 005
(with 008's functions) derive their facts as they would for the workflow's writes. Each status has
the shape lifecycle 2 writes (deadlines with explanations, the dispatch window, proposals,
assignments, reviewed results, callbacks, extensions, appeals, a timeline) and about its size
(~2.7 kB stored); twenty paths repeat (satisfied, dissatisfied and re-handled, appeal upheld,
appeal unanswered, a result sent back, a dispatch reminded and escalated, unit return, extension
forwarded and approved, extension declined, late completion, late receipt, withdrawn, no callback,
open). Then `statistics` for a month and for the year are timed beside `SELECT count(*)` over the
same rows. Target: a month within 10x the count. Seeding a million rows takes minutes on a small
machine, so the module has a timeout of its own.

Run: `.venv/bin/pytest -m bench -s -p no:cacheprovider tests/activities/test_stats_bench.py`.
"""

from __future__ import annotations

import asyncio
import os
import statistics as pystats
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, datetime, timedelta, timezone
from typing import Any

import asyncpg
import pytest

from activities.store.calendar_data import package_calendar
from activities.store.db import apply_migrations, create_pool
from activities.store.reference import seed_organisations
from activities.store.stats import statistics
from domain.assessment import Grouping, Period
from domain.contract import ORDER_ID_PREFIX
from domain.models import NewOrder, OrderStatus
from domain.order import Order
from domain.rulebook import rulebook_for
from tests.support.bench import report
from workers.pg import EmbeddedPostgres

#: seeding takes most of it (about 5 minutes on 2 cores); the project's default of 300 s is for tests
pytestmark = [pytest.mark.bench, pytest.mark.timeout(1800)]

CST = timezone(timedelta(hours=8))
N = int(os.environ.get("HOTLINE_BENCH_ORDERS", "1000000"))
BATCH = 50_000
YEAR = 2025
#: seconds between two dispatches: N orders over the year
SPACING = 365 * 86400 / N
NOW = datetime(YEAR + 1, 1, 2, tzinfo=CST)
#: the last ~1 % of orders of outcome 19 are still open
OPEN_FROM = int(N * 0.99)
ROUNDS = 3
#: one run of each path (k = g % 20), and the last one of path 19 (still open)
SAMPLE = [f"bench-{g}" for g in (*range(20, 40), N - 1)]

_DISTRICTS = (
    "heping hedong hexi nankai hebei hongqiao dongli xiqing jinnan beichen wuqing baodi binhai ninghe jinghai jizhou"
)
UNITS = [f"district-{d}" for d in _DISTRICTS.split()] + [
    "dept-roads",
    "dept-sanitation",
    "dept-landscape",
    "dept-lighting",
    "dept-enforcement",
    "dept-waste",
    "unit-enforcement-corps",
    "unit-lighting-center",
    "unit-sanitation-center",
    "unit-roads-center",
    "unit-landscape-center",
    "utilities",
]

_FUNCTIONS = """
CREATE FUNCTION bench_dl(kind text, label text, start timestamptz, due timestamptz, met timestamptz,
                         overdue timestamptz, closed timestamptz, counts boolean) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('kind', kind, 'label', label, 'start', start, 'due', due,
        'warn_at', start + (due - start) * 0.8,
        'explanation', kind || ': dispatched ' || to_char(start, 'Dy YYYY-MM-DD HH24:MI')
            || '; normal: 6 working days, the day of the start not counted (Civil Code Arts. 201-203); due '
            || to_char(due, 'Dy YYYY-MM-DD HH24:MI'),
        'calendar_confirmed', true, 'warned_at', NULL, 'overdue_since', overdue, 'met_at', met,
        'closed_at', closed, 'late_counts', counts, 'warning_label', NULL, 'paused_at', NULL,
        'overdue_lifted_at', NULL, 'next_reminder_at', NULL, 'reminders', 0)
$$;
CREATE FUNCTION bench_cb(at timestamptz, round int, verdict text, note text) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('at', at, 'round', round, 'verdict', verdict, 'note', note)
$$;
CREATE FUNCTION bench_by(org text, role text) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('org', org, 'person', '张科', 'role', role)
$$;
CREATE FUNCTION bench_assignment(unit text, at timestamptz, state text, ended timestamptz) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('unit', unit, 'role', 'lead', 'handler', jsonb_build_object('person', '张科'),
        'dispatched_at', at, 'return_due', at + interval '8 h',
        'state', state, 'ended_at', ended,
        'end_reason', CASE WHEN state = 'returned' THEN '不属于本单位职责' ELSE '' END,
        'return_basis', CASE WHEN state = 'returned' THEN '三定方案' ELSE '' END,
        'contacts', jsonb_build_array(jsonb_build_object('at', at + interval '30 min', 'method', 'phone',
            'note', '', 'recorded_at', at + interval '30 min', 'round', 0)),
        'contributions', '[]'::jsonb)
$$;
CREATE FUNCTION bench_proposal(platform text, lead text, at timestamptz) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('at', at - interval '20 min', 'by', bench_by(platform, 'operator'), 'lead_unit', lead,
        'assisting_units', '[]'::jsonb, 'opinion', lead || '牵头办理', 'reviewed_at', at, 'approved', true,
        'comment', '同意', 'reviewed_by', bench_by(CASE WHEN platform = 'center' THEN 'dept-hotline'
                                                      ELSE 'utilities' END, 'supervisor'))
$$;
CREATE FUNCTION bench_result(platform text, org text, round int, at timestamptz, reviewed timestamptz,
                             approved boolean) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('at', at, 'by', bench_by(org, 'handler'), 'round', round,
        'result', CASE WHEN round = 0 THEN '已更换灯具' ELSE '再次处理' END, 'reporter_informed_at', at,
        'appeal_materials', '[]'::jsonb, 'reviewed_at', reviewed, 'approved', approved,
        'review_comment', CASE WHEN approved THEN '' ELSE '缺少现场照片' END,
        'reviewed_by', bench_by(platform, 'operator'))
$$;
CREATE FUNCTION bench_review(n int, at timestamptz, reviewed timestamptz) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('result_review_' || n, bench_dl('result_review', 'result review', at,
        at + interval '3 h', reviewed, NULL, NULL, true))
$$;
"""

#: One statement per batch: $1..$2 the orders' numbers, $3 the spacing in seconds, $4 the first
#: open one, $5 the timeline every status carries, $6 "now" (overdue at the time).
#: The statuses are lifecycle 2's. k = g % 20 picks the path: 0-7 satisfied; 8 dissatisfied twice,
#: appealed in the appeal window, unanswered; 9 an extension declined by the platform; 10 the dispatch
#: reminded and escalated; 11 a result sent back; 12 dissatisfied, re-handled, satisfied; 13 re-handled,
#: appealed, upheld; 14 a unit's return; 15 an extension forwarded and approved; 16 a late
#: completion; 17 a late receipt; 18 withdrawn; 19 no callback (the last 1 % still open).
_INSERT = (
    """
INSERT INTO orders (run_id, workflow_id, order_no, tier, category, platform, district, subject,
    dispatched_at, rulebook, phase, outcome, confidential, reporter_name, reporter_phone, address,
    description, demands, receipt_due, completion_due, flags, units, status, revision)
SELECT 'bench-' || g, '"""
    + ORDER_ID_PREFIX
    + """B' || g, 'B' || g, a.tier, a.category, b.platform, a.district,
    '路灯不亮', a.d,
    'tianjin-2021', c.phase, c.outcome, false, '张三', '13800000000', '友谊路1号', '三盏路灯连续三晚不亮',
    '尽快修复', b.receipt_due, b.completion_due, '{}', ARRAY[a.lead],
    jsonb_build_object(
        'order_no', 'B' || g, 'tier', a.tier, 'category', a.category, 'platform', b.platform,
        'district', a.district, 'subject', '路灯不亮', 'dispatched_at', a.d, 'rulebook', 'tianjin-2021',
        'lifecycle', 2, 'phase', c.phase, 'outcome', c.outcome, 'closed_at', c.closed_at, 'waiting_for', '',
        'flags', '[]'::jsonb, 'units', jsonb_build_array(a.lead), 'rehandling_round', c.rounds,
        'rejected_actions', '[]'::jsonb, 'rejected_total', 0,
        'deadlines', jsonb_build_object(
            'receipt', bench_dl('receipt', 'receipt window', a.d, b.receipt_due,
                CASE WHEN a.k <> 18 THEN b.received_at END, CASE WHEN a.k = 17 THEN b.receipt_due END,
                CASE WHEN a.k = 18 THEN c.closed_at END, true))
        || CASE WHEN a.k <> 18 THEN jsonb_build_object(
            'dispatch', bench_dl('dispatch', 'dispatch escalation', b.received_at, b.received_at + interval '6 h',
                b.assigned_at, CASE WHEN a.k = 10 THEN b.received_at + interval '6 h' END, NULL, false),
            'completion', bench_dl('completion', 'completion deadline', b.assigned_at, b.completion_due,
                CASE WHEN c.replied THEN b.accepted_at END,
                CASE WHEN a.k = 16 OR (c.phase <> 'closed' AND b.completion_due < $6) THEN b.completion_due END,
                NULL, true),
            'return:' || a.lead, bench_dl('return', 'return window: ' || a.lead, b.assigned_at,
                b.assigned_at + interval '8 h', NULL, b.assigned_at + interval '8 h', NULL, false))
           ELSE '{}' END
        || CASE WHEN c.replied THEN bench_review(1, b.result_at, b.result_at + CASE WHEN a.k = 11
                THEN interval '30 min' ELSE interval '1 h' END)
            || jsonb_build_object('callback_0', bench_dl('callback', 'callback wait',
                b.reply_at, b.reply_at + interval '30 days',
                CASE WHEN a.k <> 19 THEN b.result_at + interval '48 h' END,
                CASE WHEN a.k = 19 THEN b.reply_at + interval '30 days' END, NULL, false)) ELSE '{}' END
        || CASE WHEN a.k = 11 THEN bench_review(2, b.accepted_at, b.reply_at) ELSE '{}' END
        || CASE WHEN a.k IN (8, 12, 13) THEN jsonb_build_object('rehandling_1', bench_dl('rehandling',
                're-handling deadline 1', b.result_at + interval '48 h', b.result_at + interval '8 days',
                b.result_at + CASE WHEN a.k = 12 THEN interval '96 h' ELSE interval '60 h' END, NULL, NULL, true),
                'callback_1', bench_dl('callback', 'callback wait', b.result_at + b.again + interval '1 h',
                b.result_at + b.again + interval '30 days 1 h',
                CASE WHEN a.k = 12 THEN b.result_at + interval '144 h' WHEN a.k = 8 THEN b.result_at + interval '96 h'
                END, NULL,
                CASE WHEN a.k = 13 THEN c.closed_at END, false))
            || bench_review(2, b.result_at + b.again, b.result_at + b.again + interval '1 h') ELSE '{}' END
        || CASE WHEN a.k = 8 THEN jsonb_build_object(
                'appeal_window', bench_dl('appeal_window', 'appeal window', b.result_at + interval '96 h',
                    b.result_at + interval '96 h 3 days', b.result_at + interval '100 h', NULL, NULL, false),
                'appeal_wait', bench_dl('appeal_wait', 'appeal wait', b.result_at + interval '100 h',
                    c.closed_at, NULL, c.closed_at, c.closed_at, false)) ELSE '{}' END,
        'proposals', CASE
            WHEN a.k = 18 THEN '[]'::jsonb
            WHEN a.k = 14 THEN jsonb_build_array(
                bench_proposal(b.platform, 'dept-roads', b.assigned_at - interval '3 h'),
                bench_proposal(b.platform, a.lead, b.assigned_at))
            ELSE jsonb_build_array(bench_proposal(b.platform, a.lead, b.assigned_at)) END,
        'assignments', CASE
            WHEN a.k = 18 THEN '[]'::jsonb
            WHEN a.k = 14 THEN jsonb_build_array(
                bench_assignment('dept-roads', b.assigned_at - interval '3 h', 'returned',
                                 b.assigned_at - interval '1 h'),
                bench_assignment(a.lead, b.assigned_at, 'active', NULL))
            ELSE jsonb_build_array(bench_assignment(a.lead, b.assigned_at, 'active', NULL)) END,
        'extensions', CASE
            WHEN a.k = 15 THEN jsonb_build_array(jsonb_build_object(
                'requested_at', b.assigned_at + interval '5 days', 'by', bench_by(a.lead, 'handler'),
                'deadline', 'completion', 'reason', '需采购设备', 'current_due', b.assigned_at + interval '6 days',
                'requested_due', b.completion_due, 'reporter_notified_at', b.assigned_at + interval '5 days',
                'written_reply', '申请延期', 'decision', 'approved', 'waits_at', NULL,
                'forwarded_at', b.assigned_at + interval '5 days 2 hours',
                'forwarded_by', bench_by(b.platform, 'operator'), 'platform_note', '',
                'decided_at', b.assigned_at + interval '5 days 12 hours', 'approved_due', b.completion_due,
                'note', ''))
            WHEN a.k = 9 THEN jsonb_build_array(jsonb_build_object(
                'requested_at', b.assigned_at + interval '2 h', 'by', bench_by(a.lead, 'handler'),
                'deadline', 'completion', 'reason', '需协调', 'current_due', b.completion_due,
                'requested_due', b.completion_due + interval '5 days',
                'reporter_notified_at', b.assigned_at + interval '2 h', 'written_reply', '申请延期',
                'decision', 'declined', 'waits_at', NULL, 'forwarded_at', NULL, 'forwarded_by', NULL,
                'platform_note', '理由不充分', 'decided_at', b.assigned_at + interval '4 h',
                'approved_due', NULL, 'note', ''))
            ELSE '[]'::jsonb END,
        'results', CASE WHEN NOT c.replied THEN '[]'::jsonb
            WHEN a.k = 11 THEN jsonb_build_array(
                bench_result(b.platform, a.lead, 0, b.result_at, b.result_at + interval '30 min', false),
                bench_result(b.platform, a.lead, 0, b.accepted_at, b.reply_at, true))
            WHEN a.k IN (8, 12, 13) THEN jsonb_build_array(
                bench_result(b.platform, a.lead, 0, b.result_at, b.reply_at, true),
                bench_result(b.platform, a.lead, 1, b.result_at + b.again, b.result_at + b.again + interval '1 h',
                             true))
            ELSE jsonb_build_array(bench_result(b.platform, a.lead, 0, b.result_at, b.reply_at, true)) END,
        'callbacks', CASE
            WHEN a.k IN (18, 19) THEN '[]'::jsonb
            WHEN a.k = 12 THEN jsonb_build_array(
                bench_cb(b.result_at + interval '48 h', 0, 'dissatisfied', '还是不亮'),
                bench_cb(b.result_at + interval '144 h', 1, 'satisfied', ''))
            WHEN a.k = 13 THEN jsonb_build_array(
                bench_cb(b.result_at + interval '48 h', 0, 'dissatisfied', '诉求超出职责'))
            WHEN a.k = 8 THEN jsonb_build_array(
                bench_cb(b.result_at + interval '48 h', 0, 'dissatisfied', '还是不亮'),
                bench_cb(b.result_at + interval '96 h', 1, 'dissatisfied', '诉求超出职责'))
            ELSE jsonb_build_array(
                bench_cb(b.result_at + interval '48 h', 0, 'satisfied', '')) END,
        'appeal', CASE
            WHEN a.k = 13 THEN jsonb_build_object('filed_at', b.result_at + interval '72 h',
                'by', bench_by(b.platform, 'operator'), 'reason', '诉求超出职责', 'materials', '["说明"]'::jsonb,
                'upheld', true, 'decided_at', b.result_at + interval '120 h', 'note', '')
            WHEN a.k = 8 THEN jsonb_build_object('filed_at', b.result_at + interval '100 h',
                'by', bench_by(b.platform, 'operator'), 'reason', '诉求超出职责', 'materials', '["说明"]'::jsonb,
                'upheld', NULL, 'decided_at', NULL, 'note', '') END,
        'timeline', ($5::jsonb -> 'timeline') || CASE WHEN a.k = 10 THEN jsonb_build_array(
            jsonb_build_object('at', b.received_at + interval '3 h', 'kind', 'dispatch_reminder', 'actor', NULL,
                'detail', 'dispatch reminder: the order has not been dispatched to a unit'),
            jsonb_build_object('at', b.received_at + interval '6 h', 'kind', 'dispatch_escalation', 'actor', NULL,
                'detail', 'not dispatched to a unit: escalated')) ELSE '[]'::jsonb END
    ),
    10
FROM generate_series($1::bigint, $2::bigint) AS g,
LATERAL (SELECT
    timestamptz '2025-01-01 00:00+08' + (g - 1) * ($3::float8 * interval '1 second') AS d,
    (g % 20)::int AS k,
    (string_to_array('__DISTRICTS__', ' '))[1 + (g % 16)::int] AS district,
    (ARRAY[__UNITS__])[1 + ((g / 20) % __N_UNITS__)::int] AS lead,
    CASE WHEN g % 13 = 0 THEN 'heating' WHEN g % 17 = 0 THEN 'gas' ELSE 'general' END AS category,
    CASE g % 10 WHEN 0 THEN 'urgent' WHEN 1 THEN 'very_urgent' ELSE 'normal' END AS tier) a,
LATERAL (SELECT
    CASE WHEN a.category = 'general' THEN 'center' ELSE 'utilities' END AS platform,
    a.d + interval '3 h' AS receipt_due,
    a.d + CASE WHEN a.k = 17 THEN interval '4 h' ELSE interval '20 min' END AS received_at) b0,
LATERAL (SELECT
    b0.received_at + CASE WHEN a.k = 10 THEN interval '7 h' WHEN a.k = 14 THEN interval '5 h'
                          ELSE interval '40 min' END AS assigned_at) b1,
LATERAL (SELECT
    b0.platform, b0.receipt_due, b0.received_at, b1.assigned_at,
    b1.assigned_at + CASE WHEN a.k = 15 THEN interval '10 days' ELSE interval '6 days' END AS completion_due,
    r.result_at,
    r.result_at + CASE WHEN a.k = 11 THEN interval '20 h' ELSE interval '0' END AS accepted_at,
    r.result_at + CASE WHEN a.k = 11 THEN interval '21 h' ELSE interval '1 h' END AS reply_at,
    CASE WHEN a.k = 12 THEN interval '96 h' ELSE interval '60 h' END AS again
    FROM (SELECT b1.assigned_at + CASE WHEN a.k = 16 THEN interval '7 days' WHEN a.k = 15 THEN interval '8 days'
                                       ELSE interval '1 h' * (5 + g % 100) END AS result_at) r) b,
LATERAL (SELECT
    CASE WHEN a.k = 19 AND g >= $4 THEN 'in_handling' ELSE 'closed' END AS phase,
    CASE WHEN a.k = 18 THEN 'withdrawn' WHEN a.k = 19 AND g >= $4 THEN NULL WHEN a.k = 19 THEN 'no_callback'
         WHEN a.k = 13 THEN 'appeal_upheld' WHEN a.k = 8 THEN 'appeal_unanswered' ELSE 'satisfied' END AS outcome,
    CASE WHEN a.k = 18 THEN a.d + interval '10 min' WHEN a.k = 19 AND g >= $4 THEN NULL
         WHEN a.k = 19 THEN b.reply_at + interval '30 days' WHEN a.k = 12 THEN b.result_at + interval '144 h'
         WHEN a.k = 13 THEN b.result_at + interval '120 h' WHEN a.k = 8 THEN b.result_at + interval '100 h 30 days'
         ELSE b.result_at + interval '48 h' END AS closed_at,
    NOT (a.k = 18 OR (a.k = 19 AND g >= $4)) AS replied,
    CASE WHEN a.k IN (8, 12, 13) THEN 1 ELSE 0 END AS rounds) c
""".replace("__DISTRICTS__", _DISTRICTS)
    .replace("__UNITS__", ", ".join(f"'{u}'" for u in UNITS))
    .replace("__N_UNITS__", str(len(UNITS)))
)


def _padding() -> dict[str, Any]:
    """The timeline of a real order (satisfied, first reply in 3 days, reviewed in 1 h), as JSON."""
    t0 = datetime(2025, 3, 6, 9, tzinfo=CST)
    new = NewOrder.model_validate(
        {
            "order_no": "PAD",
            "tier": "normal",
            "category": "general",
            "dispatched_at": t0.isoformat(),
            "reporter": {"name": "张三", "phone": "13800000000"},
            "location": {"district": "hexi", "address": "友谊路1号"},
            "subject": "路灯不亮",
        }
    )
    o = Order(new, rulebook_for(t0), package_calendar(), t0)

    def act(name: str, minutes: int, actor: tuple[str, str], **fields: Any) -> None:
        now = t0 + timedelta(minutes=minutes)
        o.fire_due(now)
        o.act(name, {"actor": {"org": actor[0], "person": "王工", "role": actor[1]}, **fields}, now)

    act("receive", 30, ("center", "operator"))
    act(
        "propose", 60, ("center", "operator"), lead_unit="district-hexi", assisting_units=[], opinion="河西区城管委牵头"
    )
    act("review", 90, ("dept-hotline", "supervisor"), approved=True, comment="同意")
    act(
        "contact_reporter",
        120,
        ("district-hexi", "handler"),
        at=(t0 + timedelta(minutes=120)).isoformat(),
        method="phone",
    )
    done = (t0 + timedelta(days=3)).isoformat()
    act(
        "submit_result",
        3 * 1440,
        ("district-hexi", "handler"),
        result="更换了三盏路灯的镇流器",
        reporter_informed_at=done,
    )
    act("review_result", 3 * 1440 + 60, ("center", "operator"), approved=True)
    act("callback", 5 * 1440, ("hotline", "hotline"), verdict="satisfied")
    status = o.status().model_dump(mode="json")
    return {"timeline": status["timeline"], "proposals": status["proposals"]}


@pytest.fixture(scope="module")
async def bench_db(embedded_pg: EmbeddedPostgres) -> AsyncIterator[tuple[str, asyncpg.Pool, float]]:
    """A database of its own with N orders; yields (url, pool, seconds the seeding took)."""
    name = f"stats_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(embedded_pg.url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = embedded_pg.url.rsplit("/", 1)[0] + f"/{name}"
    pool = await create_pool(url, max_size=4)
    try:
        async with pool.acquire() as conn:
            await apply_migrations(conn)
            await seed_organisations(conn)
            await conn.execute(_FUNCTIONS)
        padding = _padding()
        started = time.perf_counter()
        batches = [(lo, min(lo + BATCH - 1, N)) for lo in range(1, N + 1, BATCH)]

        async def worker(mine: list[tuple[int, int]]) -> None:
            async with pool.acquire() as conn:
                for lo, hi in mine:
                    await conn.execute(_INSERT, lo, hi, SPACING, OPEN_FROM, padding, NOW)

        await asyncio.gather(worker(batches[0::2]), worker(batches[1::2]))
        async with pool.acquire() as conn:
            await conn.execute("VACUUM ANALYZE orders, order_events, order_spans")
        seeded = time.perf_counter() - started
        yield url, pool, seeded
    finally:
        await pool.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _timed(fn: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    """The median of ROUNDS runs (after one to warm the cache), and the last result."""
    result = await fn()
    times = []
    for _ in range(ROUNDS):
        t = time.perf_counter()
        result = await fn()
        times.append(time.perf_counter() - t)
    return pystats.median(times), result


async def test_a_month_within_ten_counts(bench_db: tuple[str, asyncpg.Pool, float]) -> None:
    """`stats` for a month takes at most 10x a plain count(*) of the same rows; the year is shown too."""
    _, pool, seeded = bench_db
    async with pool.acquire() as conn:
        rows = await conn.fetchval("SELECT count(*) FROM orders")
        events = await conn.fetchval("SELECT count(*) FROM order_events")
        spans = await conn.fetchval("SELECT count(*) FROM order_spans")
        size = await conn.fetchval("SELECT pg_size_pretty(pg_total_relation_size('orders'))")
        avg = await conn.fetchval("SELECT avg(pg_column_size(status))::int FROM orders TABLESAMPLE SYSTEM (1)")
    assert rows == N
    async with pool.acquire() as conn:  # one status of each path has the contract's shape
        for r in await conn.fetch("SELECT status FROM orders WHERE run_id = ANY ($1::text[])", SAMPLE):
            OrderStatus.model_validate(r["status"])

    async def count() -> int:
        async with pool.acquire() as conn:
            return int(await conn.fetchval("SELECT count(*) FROM orders"))

    june = Period.month(YEAR, 6)
    year = Period(first=date(YEAR, 1, 1), last=date(YEAR, 12, 31))
    t_count, _ = await _timed(count)
    t_month, month = await _timed(lambda: statistics(pool, june, now=NOW))
    t_month_unit, _ = await _timed(lambda: statistics(pool, june, by=Grouping.UNIT, now=NOW))
    t_year, whole = await _timed(lambda: statistics(pool, year, now=NOW))
    t_year_unit, _ = await _timed(lambda: statistics(pool, year, by=Grouping.UNIT, now=NOW))

    print(
        f"\nstats bench: {rows:,} orders (status ~{avg} B stored, orders {size}), {events:,} events, "
        f"{spans:,} spans; seeded with facts in {seeded:.1f} s"
        f"\n  SELECT count(*) FROM orders       {1000 * t_count:8.1f} ms"
        f"\n  stats month (2025-06), total      {1000 * t_month:8.1f} ms  = {t_month / t_count:.2f} x count"
        f"  ({month.total.received:,} received)"
        f"\n  stats month (2025-06), by unit    {1000 * t_month_unit:8.1f} ms  = {t_month_unit / t_count:.2f} x count"
        f"\n  stats year (2025), total          {1000 * t_year:8.1f} ms  = {t_year / t_count:.2f} x count"
        f"  ({whole.total.received:,} received)"
        f"\n  stats year (2025), by unit        {1000 * t_year_unit:8.1f} ms  = {t_year_unit / t_count:.2f} x count"
    )
    report(
        "stats",
        orders=rows,
        seeded_seconds=seeded,
        count=t_count,
        month=t_month,
        month_by_unit=t_month_unit,
        year=t_year,
        year_by_unit=t_year_unit,
    )
    assert whole.total.received == N
    # every path of the lifecycle-2 statuses reaches its figures
    tot = whole.total
    assert min(tot.dispatched, tot.dispatch_reminders, tot.results_reviewed, tot.results_sent_back) > 0
    assert min(tot.extensions_forwarded, tot.extensions_declined, tot.appeals_upheld, tot.appeals_unanswered) > 0
    assert tot.completed_on_time < tot.completed
    assert t_month <= 10 * t_count
    assert t_month_unit <= 10 * t_count
