"""The fast tier: order and doubtful-order lifecycles on the time-skipping server, without PostgreSQL.

The record activities (`record_order`, `record_inquiry`, `load_calendar_years`) are the in-memory
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
        await d.handle.result()
        last = fast.records.latest(order_workflow_id(no))
        assert last.archive
        assert last.status.outcome is Outcome.WITHDRAWN
        written = [e.entry.kind for r in fast.records.orders[order_workflow_id(no)] for e in r.entries]
        assert written == kinds(last.status)


class TestCoHandling:
    async def test_contributions_and_a_release(self, fast: FastStack) -> None:
        """The lead's result waits for every assisting unit to contribute or be released."""
        d, _, now = await fast.start()
        s = await d.to_handling(assisting=["district-hexi", "unit-lighting-center"])
        assert s.units == ["dept-roads", "district-hexi", "unit-lighting-center"]
        await d.do("contact_reporter", unit("dept-roads"), at=now.isoformat(), method="visit")
        refused = await d.refused(
            "submit_result", unit("dept-roads"), result="好了", reporter_informed_at=now.isoformat()
        )
        assert "district-hexi" in refused.message
        assert "unit-lighting-center" in refused.message
        await d.do("contribute", unit("district-hexi"), content="已清理现场")
        await d.do("release_assisting_unit", PLATFORM, unit="unit-lighting-center", reason="不涉及照明")
        s = await d.do("submit_result", unit("dept-roads"), result="已修复", reporter_informed_at=now.isoformat())
        assert s.phase is Phase.AWAITING_CALLBACK
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


class TestDissatisfied:
    async def test_rehandling_then_satisfied(self, fast: FastStack) -> None:
        """Dissatisfied opens re-handling by the lead with a fresh deadline; then satisfied closes."""
        d, _, now = await fast.start()
        await d.to_handling(assisting=["district-hexi"])
        await d.do("contribute", unit("district-hexi"), content="配合")
        await d.to_callback(now.isoformat())
        s = await d.do("callback", HOTLINE, verdict="dissatisfied", note="仍不亮")
        assert s.phase is Phase.REHANDLING
        assert s.rehandling_round == 1
        assert "rehandling_1" in s.deadlines
        assert "dissatisfied" in s.flags
        refused = await d.refused("contact_reporter", unit("district-hexi"), at=now.isoformat(), method="phone")
        assert "re-handling is by the lead unit" in refused.message
        now2 = (await fast.env.get_current_time()).isoformat()
        await d.do("contact_reporter", unit("dept-roads"), at=now2, method="phone")
        s = await d.do("submit_result", unit("dept-roads"), result="更换灯具", reporter_informed_at=now2)
        assert s.phase is Phase.AWAITING_CALLBACK
        s = await d.do("callback", HOTLINE, verdict="basically_satisfied")
        assert s.outcome is Outcome.BASICALLY_SATISFIED


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
        d, _, now = await fast.start()
        await d.to_handling()
        await d.to_callback(now.isoformat())
        await fast.env.sleep(timedelta(days=30, minutes=1))
        final = OrderStatus.model_validate(await d.handle.result())
        assert final.outcome is Outcome.NO_CALLBACK
        assert "no_callback" in kinds(final)


class TestQueries:
    async def test_handling_order_hides_a_confidential_reporter(self, fast: FastStack) -> None:
        """A unit never sees a confidential reporter's name or phone; an unassigned unit sees nothing."""
        d, _, _ = await fast.start(reporter={"name": "王五", "phone": "13700000000", "confidential": True})
        await d.to_handling()
        view = await d.handle.query(HANDLING_ORDER_QUERY, "dept-roads", result_type=HandlingOrder)
        assert view.reporter_name is None
        assert view.reporter_phone is None
        assert "王五" not in view.model_dump_json()
        assert "13700000000" not in view.model_dump_json()
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
