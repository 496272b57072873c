"""The fast tier: order and doubtful-order lifecycles on the time-skipping server, without PostgreSQL.

The record activities (`record_order`, `record_inquiry`, `load_order_rules`, `load_calendar_years`) are the in-memory
stand-ins of `tests/support/memory.py`, under the same names, with the package's calendar; the
`fast` fixture (`tests/conftest.py`) gives each test a server and a worker of its own. Tests that
read what the record activities wrote to PostgreSQL (projection, timeline, outboxes, archive) stay
on the PostgreSQL tier (`test_lifecycle.py`, `test_doubtful_order.py`, `test_receive.py`).

``pytest -m fast`` runs this tier alone. With ``HOTLINE_RECORD_HISTORIES=1`` its runs are kept for
the replay tests, as the PostgreSQL tier's are: the workflows' commands do not depend on where the
records go.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.contract import HANDLING_ORDER_QUERY, InquiryAction, OrderAction, inquiry_workflow_id, order_workflow_id
from domain.inquiry import InquiryPhase, InquiryStatus
from domain.models import HandlingOrder, OrderStatus, Outcome, Phase
from tests.support.memory import FastStack
from tests.support.workflows import HOTLINE, PLATFORM, SUPERVISOR, actor, kinds, unit

pytestmark = pytest.mark.fast


class TestRecords:
    async def test_each_change_is_recorded_and_the_close_archived(self, fast: FastStack) -> None:
        """What PostgreSQL would get: a record per change, the last one archiving the closed order."""
        d, no, _ = await fast.start()
        await d.to_handling()
        s = await d.do(OrderAction.WITHDRAW, HOTLINE, reason="市民撤诉")
        assert s.outcome is Outcome.WITHDRAWN
        final = OrderStatus.model_validate(await d.handle.result())
        last = fast.records.latest(order_workflow_id(no))
        assert last.archive
        assert last.status.outcome is Outcome.WITHDRAWN
        assert last.status.timeline == []  # a record carries only the new rows: its size never grows
        written = [e.entry.kind for r in fast.records.orders[order_workflow_id(no)] for e in r.entries]
        assert written == kinds(final)


class TestCoHandling:
    async def test_contributions_and_a_release(self, fast: FastStack) -> None:
        """The lead's result waits for every assisting unit to contribute or be released."""
        d, _, _ = await fast.start()
        s = await d.to_handling(assisting=["district-hexi", "unit-lighting-center"])
        assert s.units == ["dept-roads", "district-hexi", "unit-lighting-center"]
        at = await d.since_dispatch()
        await d.do("contact_reporter", unit("dept-roads"), at=at, method="visit")
        refused = await d.refused("submit_result", unit("dept-roads"), result="好了", reporter_informed_at=at)
        assert "district-hexi" in refused.message
        assert "unit-lighting-center" in refused.message
        await d.do("contribute", unit("district-hexi"), content="已清理现场")
        await d.do("release_assisting_unit", PLATFORM, unit="unit-lighting-center", reason="不涉及照明")
        view = await d.handle.query(HANDLING_ORDER_QUERY, "dept-roads", result_type=HandlingOrder)
        assert [(c.unit, c.content) for c in view.contributions] == [("district-hexi", "已清理现场")]
        s = await d.do("submit_result", unit("dept-roads"), result="已修复", reporter_informed_at=at)
        assert s.phase is Phase.RESULT_REVIEW
        assert s.units == ["dept-roads", "district-hexi"]
        released = next(a for a in s.assignments if a.unit == "unit-lighting-center")
        assert released.state == "released"


class TestReturns:
    async def test_return_inside_8_hours_goes_back_to_the_platform(self, fast: FastStack) -> None:
        """The lead unit returns within 8 hours; the platform re-proposes another unit."""
        d, _, _ = await fast.start()
        await d.to_handling(assisting=["district-hexi"])
        await fast.env.sleep(timedelta(hours=7, minutes=59))
        s = await d.do("return_order", unit("dept-roads"), reason="不属于本处职责", basis="三定方案")
        assert s.phase is Phase.RECEIVED
        assert s.units == []
        refused = await d.refused("propose", PLATFORM, lead_unit="dept-roads", assisting_units=[], opinion="再转")
        assert "returned this order already" in refused.message
        s = await d.do("propose", PLATFORM, lead_unit="district-hexi", assisting_units=[], opinion="转河西区")
        assert s.phase is Phase.IN_REVIEW


class TestResultReview:
    async def test_sent_back_then_approved(self, fast: FastStack) -> None:
        """The platform sends the result back with its words; the lead submits again; approved replies."""
        d, no, _ = await fast.start()
        await d.to_handling()
        s = await d.to_result_review()
        assert s.phase is Phase.RESULT_REVIEW
        s = await d.do("review_result", PLATFORM, approved=False, comment="请补充现场照片")
        assert s.phase is Phase.IN_HANDLING
        view = await d.handle.query(HANDLING_ORDER_QUERY, "dept-roads", result_type=HandlingOrder)
        assert view.latest_result is not None
        assert view.latest_result.review_comment == "请补充现场照片"
        at = await d.since_dispatch()
        await d.do("submit_result", unit("dept-roads"), result="已补充照片", reporter_informed_at=at)
        s = await d.do("review_result", PLATFORM, approved=True)
        assert s.phase is Phase.AWAITING_CALLBACK
        await d.do("callback", HOTLINE, verdict="satisfied")
        await d.handle.result()
        sent = [o.kind for r in fast.records.orders[order_workflow_id(no)] for o in r.outbox if o.channel == "hotline"]
        assert sent == ["reply"]


class TestUnitsClock:
    async def test_extra_urgent_handled_25_minutes_after_dispatch_is_on_time(self, fast: FastStack) -> None:
        """Art. 8.4/8.5: the 30 minutes run from the dispatch to the unit, not from the transfer."""
        d, _, _ = await fast.start(tier="extra_urgent")
        await fast.env.sleep(timedelta(minutes=20))
        s = await d.to_handling()
        dispatched = s.assignments[0].dispatched_at
        assert s.deadlines["completion"].due == dispatched + timedelta(minutes=30)
        await fast.env.sleep(timedelta(minutes=25))
        await d.to_callback()
        s = await d.status()
        met = s.deadlines["completion"].met_at
        assert met is not None
        assert timedelta(minutes=25) <= met - dispatched < timedelta(minutes=26)
        assert not {"receipt_late", "completion_late"} & set(s.flags)

    async def test_a_contact_before_the_dispatch_is_refused(self, fast: FastStack) -> None:
        """A reported instant before the unit got the order cannot be true: refused with both bounds."""
        d, _, start = await fast.start()
        await fast.env.sleep(timedelta(minutes=10))
        await d.to_handling()
        refused = await d.refused("contact_reporter", unit("dept-roads"), at=start.isoformat(), method="phone")
        assert refused.type == "invalid_instant"
        assert "the order was dispatched to dept-roads" in refused.message


class TestDissatisfied:
    async def test_rehandling_then_satisfied(self, fast: FastStack) -> None:
        """Dissatisfied opens re-handling by the same units with a fresh deadline; then satisfied closes."""
        d, _, _ = await fast.start()
        await d.to_handling(assisting=["district-hexi"])
        await d.do("contribute", unit("district-hexi"), content="配合")
        await d.to_callback()
        s = await d.do("callback", HOTLINE, verdict="dissatisfied", note="仍不亮")
        assert s.phase is Phase.REHANDLING
        assert s.rehandling_round == 1
        assert "rehandling_1" in s.deadlines
        assert "dissatisfied" in s.flags
        view = await d.handle.query(HANDLING_ORDER_QUERY, "district-hexi", result_type=HandlingOrder)
        assert view.latest_verdict is not None
        assert view.latest_verdict.note == "仍不亮"
        now = (await fast.env.get_current_time()).isoformat()
        await d.do("contact_reporter", unit("district-hexi"), at=now, method="phone")
        await d.do("contribute", unit("district-hexi"), content="再次配合")
        await d.do("contact_reporter", unit("dept-roads"), at=now, method="phone")
        s = await d.do("submit_result", unit("dept-roads"), result="更换灯具", reporter_informed_at=now)
        assert s.phase is Phase.RESULT_REVIEW
        await d.do("review_result", PLATFORM, approved=True)
        s = await d.do("callback", HOTLINE, verdict="basically_satisfied")
        assert s.outcome is Outcome.BASICALLY_SATISFIED

    async def test_the_appeal_window_passes_and_the_order_closes_dissatisfied(self, fast: FastStack) -> None:
        """After the last dissatisfied verdict, no appeal within the window: closed dissatisfied."""
        d, _, _ = await fast.start()
        await d.to_handling()
        await d.to_callback()
        await d.do("callback", HOTLINE, verdict="dissatisfied", note="不满意")
        now = (await fast.env.get_current_time()).isoformat()
        await d.do("contact_reporter", unit("dept-roads"), at=now, method="phone")
        await d.do("submit_result", unit("dept-roads"), result="再次处理", reporter_informed_at=now)
        await d.do("review_result", PLATFORM, approved=True)
        s = await d.do("callback", HOTLINE, verdict="dissatisfied", note="仍不满意")
        assert s.phase is Phase.APPEAL_WINDOW
        window = s.deadlines["appeal_window"].due
        await fast.env.sleep(window - await fast.env.get_current_time() + timedelta(minutes=1))
        final = OrderStatus.model_validate(await d.handle.result())
        assert final.outcome is Outcome.DISSATISFIED
        assert final.closed_at is not None
        assert timedelta(0) <= final.closed_at - window < timedelta(seconds=5)
        assert "appeal_window_closed" in kinds(final)


class TestEndings:
    async def test_withdrawal(self, fast: FastStack) -> None:
        """The city hotline withdraws an order in handling; the units are told; nothing more is accepted."""
        d, _, _ = await fast.start()
        await d.to_handling()
        s = await d.do("withdraw", HOTLINE, reason="市民撤诉")
        assert s.outcome is Outcome.WITHDRAWN
        await d.refused("contribute", unit("dept-roads"), content="x")

    async def test_no_callback_after_the_wait(self, fast: FastStack) -> None:
        """An order waiting for its callback past the rulebook's 30 days closes as no_callback."""
        d, _, _ = await fast.start()
        await d.to_handling()
        await d.to_callback()
        await fast.env.sleep(timedelta(days=30, minutes=1))
        final = OrderStatus.model_validate(await d.handle.result())
        assert final.outcome is Outcome.NO_CALLBACK
        assert "no_callback" in kinds(final)


class TestQueries:
    async def test_handling_order_hides_a_confidential_reporter(self, fast: FastStack) -> None:
        """A unit sees a confidential reporter's phone to call, never the name; an unassigned unit sees nothing."""
        d, _, _ = await fast.start(reporter={"name": "王五", "phone": "13700000000", "confidential": True})
        await d.to_handling()
        view = await d.handle.query(HANDLING_ORDER_QUERY, "dept-roads", result_type=HandlingOrder)
        assert view.reporter_name is None
        assert (view.reporter_phone, view.confidential) == ("13700000000", True)
        assert "王五" not in view.model_dump_json()
        assert view.confidentiality_note
        with pytest.raises(Exception, match="not assigned"):
            await d.handle.query(HANDLING_ORDER_QUERY, "district-hebei")


class TestStanding:
    async def test_review_by_a_non_supervisor_is_refused(self, fast: FastStack) -> None:
        """Only the platform's supervising department reviews; history gets nothing from a refusal."""
        d, _, _ = await fast.start()
        await d.do("receive", PLATFORM)
        await d.do("propose", PLATFORM, lead_unit="dept-roads", assisting_units=[], opinion="o")
        refused = await d.refused("review", unit("district-hexi"), approved=True)
        assert "dept-hotline" in refused.message
        s = await d.do("review", SUPERVISOR, approved=False, comment="牵头单位不对")
        assert s.phase is Phase.RECEIVED


class TestDoubtfulOrder:
    async def test_answered_on_time(self, fast: FastStack) -> None:
        """The asked unit answers before the reply deadline: the inquiry completes, every change recorded."""
        handle, no = await fast.ask()
        s = await handle.execute_update(
            InquiryAction.ANSWER,
            {"actor": actor("dept-lighting", "handler", "张科"), "answer": "属于市管设施，已安排维修"},
            result_type=InquiryStatus,
        )
        assert s.phase is InquiryPhase.ANSWERED
        final = InquiryStatus.model_validate(await handle.result())
        assert final.answer == "属于市管设施，已安排维修"
        records = fast.records.inquiries[inquiry_workflow_id(no)]
        assert records[-1].status.phase is InquiryPhase.ANSWERED
