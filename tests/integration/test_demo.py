"""`hotline demo` against the real stack: every phase, every outcome that needs no waiting (and when the
others come), late flags, reruns start nothing."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import AsyncIterator
from datetime import datetime

import asyncpg
import pytest
from temporalio.client import Client

from domain.calendar import SHANGHAI
from domain.contract import Flag, SearchAttribute
from domain.directory import DISTRICTS
from domain.models import Category, OrderStatus, Outcome, Phase, Tier
from starter.cli import build_parser, demo
from starter.client import HotlineClient
from tests.support.workflows import running_worker
from workers.dev import TemporalDevServer

OUTCOMES = {
    Outcome.SATISFIED,
    Outcome.BASICALLY_SATISFIED,
    Outcome.RETURNED_TO_HOTLINE,
    Outcome.WITHDRAWN,
    Outcome.APPEAL_UPHELD,
    Outcome.APPEAL_REJECTED,
}


@pytest.fixture
async def client(
    dev_server: TemporalDevServer, dev_client: Client, pool: asyncpg.Pool, task_queue: str
) -> AsyncIterator[HotlineClient]:
    """A typed client on this test's task queue, with the project's worker running."""
    async with running_worker(dev_client, pool, task_queue):
        yield HotlineClient(dev_client, task_queue=task_queue)


def test_the_set_covers_tiers_categories_and_districts() -> None:
    """Every tier, every category and all 16 districts; order numbers from the prefix and the day."""
    now = datetime(2026, 11, 27, 10, 0, tzinfo=SHANGHAI)
    orders = [o for o, _ in demo.build_orders("DEMO", now, seed=3)]
    assert len(orders) == len(demo.SCENARIOS) >= 20
    assert {o.tier for o in orders} == set(Tier)
    assert {o.category for o in orders} == set(Category)
    assert {o.location.district for o in orders} == set(DISTRICTS)
    assert orders[0].order_no == "DEMO20261127001"
    assert any(o.reporter.confidential for o in orders)
    other = [o for o, _ in demo.build_orders("DEMO", now, seed=4)]
    assert [o.order_no for o in other] == [o.order_no for o in orders]
    assert [o.reporter for o in other] != [o.reporter for o in orders]


def test_the_command_line() -> None:
    """`demo [--prefix P] [--seed N]` registers on a parser; a prefix outside the alphabet is refused."""
    parser = build_parser(["demo"])
    args = parser.parse_args(["demo"])
    assert (args.prefix, args.seed) == ("DEMO", 0)
    args = parser.parse_args(["demo", "--prefix", "TRY2", "--seed", "7"])
    assert (args.prefix, args.seed, args.func) == ("TRY2", 7, demo.cmd_demo)
    with pytest.raises(SystemExit):
        parser.parse_args(["demo", "--prefix", "no spaces"])


async def _listed(client: HotlineClient, query: str, expected: set[str] | None = None) -> set[str]:
    """Order numbers the visibility ``query`` finds, once it finds any (or ``expected``): it lags a little."""
    found: set[str] = set()
    for _ in range(100):
        found = {o.order_no async for o in client.list_orders(query)}
        if (found and expected is None) or (expected is not None and found >= expected):
            return found
        await asyncio.sleep(0.1)
    return found if expected is None else set()


@pytest.mark.integration
async def test_every_phase_and_outcome_then_a_rerun_starts_nothing(
    client: HotlineClient,
    dev_server: TemporalDevServer,
    task_queue: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Run the demo, read every order back with `status`, run it again (also as `hotline demo`)."""
    prefix = f"T{uuid.uuid4().hex[:8].upper()}"
    now = datetime.now(SHANGHAI).replace(microsecond=0)
    report = await demo.run_demo(client, prefix=prefix, now=now)

    assert len(report.started) == len(demo.SCENARIOS)
    assert report.existing == []
    statuses: dict[str, OrderStatus] = dict(
        zip(
            [o.order_no for o in report.orders],
            await asyncio.gather(*(client.status(o.order_no) for o in report.orders)),
            strict=True,
        )
    )
    # the report says what the orders say
    for order_no, phase, outcome in report.rows:
        s = statuses[order_no]
        assert (s.phase, s.outcome) == (phase, outcome), order_no
    for o in report.orders:
        s = statuses[o.order_no]
        assert (o.actual_phase, o.actual_outcome) == (s.phase, s.outcome)
        assert set(o.flags) <= set(s.flags), (o.order_no, o.flags, s.flags)
        assert s.rejected_actions == []
    # every phase of the contract, every interesting outcome
    assert {s.phase for s in statuses.values()} == set(Phase)
    assert {s.outcome for s in statuses.values()} >= OUTCOMES
    # late arrivals are flagged at once, in several phases; the units' clock starts at their dispatch
    late = [statuses[o.order_no] for o in report.orders if o.late]
    assert len(late) >= 3
    assert all(Flag.RECEIPT_LATE in s.flags and Flag.COMPLETION_LATE not in s.flags for s in late)
    assert {s.phase for s in late} >= {Phase.AWAITING_RECEIPT, Phase.IN_HANDLING}
    # the interesting paths are there
    handling = [s for s in statuses.values() if s.phase is Phase.IN_HANDLING]
    assert any(
        any(a.role == "assisting" and a.contributions for a in s.assignments)
        and any(a.role == "assisting" and a.state == "active" and not a.contributions for a in s.assignments)
        for s in handling
    ), "a co-handled order with a contribution"
    assert any(any(a.state == "released" for a in s.assignments) for s in handling), "a released assisting unit"
    assert any(any(a.state == "returned" for a in s.assignments) and len(s.proposals) == 2 for s in handling), (
        "a return within 8 h, then a re-proposal"
    )
    pending = [s.extensions[-1].waits_at for s in handling if s.extensions and s.extensions[-1].decision is None]
    assert set(pending) == {"platform", "hotline"}, "extensions pending at the platform and at the city hotline"
    assert any(
        s.extensions and s.extensions[-1].decision == "approved" and s.extensions[-1].forwarded_at for s in handling
    ), "an extension forwarded by the platform and approved"
    assert any(s.extensions and s.extensions[-1].decision == "declined" for s in handling), "a declined extension"
    assert any(s.results and s.results[-1].approved is False for s in handling), "a result sent back"
    in_review = next(s for s in statuses.values() if s.phase is Phase.RESULT_REVIEW)
    assert in_review.results[-1].reviewed_at is None
    window = next(s for s in statuses.values() if s.phase is Phase.APPEAL_WINDOW)
    assert [c.verdict.value for c in window.callbacks] == ["dissatisfied", "dissatisfied"]
    upheld = next(s for s in statuses.values() if s.outcome is Outcome.APPEAL_UPHELD)
    assert [c.verdict.value for c in upheld.callbacks] == ["dissatisfied"], "appealed while the callback was awaited"
    assert any(
        s.phase is Phase.IN_REVIEW and len(s.proposals) == 2 and s.proposals[0].approved is False
        for s in statuses.values()
    ), "a review sent back"
    appealing = next(s for s in statuses.values() if s.phase is Phase.APPEALING)
    assert [c.verdict.value for c in appealing.callbacks] == ["dissatisfied", "dissatisfied"]
    rehandling = next(s for s in statuses.values() if s.phase is Phase.REHANDLING)
    assert rehandling.rehandling_round == 1
    assert any(c.round == 1 for a in rehandling.assignments for c in a.contributions), "assisting units re-handle too"
    # both platforms, with their own supervisors
    assert {s.platform.value for s in statuses.values()} == {"center", "utilities"}
    # every query the report suggests finds demo orders in Temporal's visibility
    for query, _ in demo.VISIBILITY_QUERIES:
        found = await _listed(client, f'({query}) AND TaskQueue = "{task_queue}"')
        assert found, query
        assert found <= set(statuses), query
    late_nos = {o.order_no for o in report.orders if o.late}
    assert await _listed(
        client, f'{SearchAttribute.ORDER_FLAGS} = "{Flag.RECEIPT_LATE}" AND TaskQueue = "{task_queue}"', late_nos
    )

    again = await demo.run_demo(client, prefix=prefix, now=now)
    assert again.started == []
    assert again.existing == [o.order_no for o in report.orders]
    for o in again.orders:
        s = statuses[o.order_no]
        assert (o.actual_phase, o.actual_outcome) == (s.phase, s.outcome)

    out = io.StringIO()
    demo.render_report(again, ui_url="http://localhost:8233", out=out, width=240)
    text = out.getvalue()
    assert f"started 0 order(s), {len(demo.SCENARIOS)} already existed" in text
    assert "http://localhost:8233" in text
    assert f'{SearchAttribute.ORDER_PHASE} = "{Phase.REHANDLING}"' in text
    assert f'{SearchAttribute.ORDER_FLAGS} = "{Flag.RECEIPT_LATE}"' in text
    assert f'{SearchAttribute.ORDER_PHASE} = "{Phase.RESULT_REVIEW}"' in text
    assert report.orders[0].order_no in text
    # what only time brings, with the demo order that gets there and when
    for what, order_no, when, _ in demo.waiting_for_time(again):
        assert when is not None, what
        assert f"{what}" in text
        assert order_no in text
    for outcome in (Outcome.DISSATISFIED, Outcome.APPEAL_UNANSWERED, Outcome.NO_CALLBACK):
        assert f"outcome {outcome.value}" in text
        assert outcome not in {s.outcome for s in statuses.values()}

    # the same through the command: it prints the report of the orders that are there already
    monkeypatch.setenv("HOTLINE_TEMPORAL_ADDRESS", dev_server.address)
    monkeypatch.setenv("HOTLINE_TASK_QUEUE", task_queue)
    monkeypatch.setenv("HOTLINE_UI_PORT", "18233")
    monkeypatch.setenv("COLUMNS", "240")
    args = build_parser(["demo"]).parse_args(["demo", "--prefix", prefix])
    capsys.readouterr()
    assert await asyncio.to_thread(args.func, args) == 0
    printed = capsys.readouterr().out
    assert "started 0 order(s)" in printed
    assert "http://localhost:18233" in printed
