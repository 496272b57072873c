"""Lifecycle 1 of the order state machine: orders started before lifecycle 2 keep this behaviour.

These are the tests the first lifecycle was built against, run on `Order(..., lifecycle=1)` with the
rulebook such orders were bound to (`LEGACY_TIANJIN_2021`): they hold that a running order finishes
under the rules it started with. Lifecycle 2 (the current behaviour) is tested in `test_order.py`.

Every test drives one order with plain JSON payloads, as the contract's senders would, and moves an
explicit clock forward: timers fire at the instants `next_timer()` names, as the workflow fires them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from activities.store.calendar_data import package_years
from domain.calendar import BusinessCalendar, CalendarYear
from domain.deadlines import completion_deadline, rehandling_deadline
from domain.errors import Rejected
from domain.models import Category, NewOrder, Outcome, Phase, Receive, Tier
from domain.order import LIFECYCLE_LEGACY
from domain.rulebook import LEGACY_TIANJIN_2021, Rulebook, WindowOverrides
from tests.support import orders
from tests.support.orders import (
    ASSISTING,
    CAL,
    CENTER,
    D0,
    DEPT_HOTLINE,
    HOTLINE,
    LEAD,
    REPORTER,
    actor,
    iso,
    new_order,
    t,
    unit,
)

RB = LEGACY_TIANJIN_2021


class Flow(orders.Flow):
    """An order of lifecycle 1, bound to the rulebook such orders were bound to."""

    def __init__(
        self,
        new: NewOrder,
        now: datetime | None = None,
        calendar: BusinessCalendar = CAL,
        rulebook: Rulebook | None = None,
    ) -> None:
        super().__init__(new, now, calendar, rulebook or RB, lifecycle=LIFECYCLE_LEGACY)


# -- the order in each phase, on the D0 timeline -------------------------------------------------


def at_awaiting_receipt(*, rulebook: Rulebook | None = None, **kw: Any) -> Flow:
    return Flow(new_order(**kw), rulebook=rulebook)


def at_received(**kw: Any) -> Flow:
    f = at_awaiting_receipt(**kw)
    f.act("receive", "2026-03-06 09:30", f.operator)
    return f


def at_in_review(*, assisting: tuple[str, ...] = ASSISTING, **kw: Any) -> Flow:
    f = at_received(**kw)
    f.act(
        "propose",
        "2026-03-06 10:00",
        f.operator,
        lead_unit=LEAD,
        assisting_units=list(assisting),
        opinion="河西区城管委牵头，照明处协办",
    )
    return f


def at_in_handling(**kw: Any) -> Flow:
    f = at_in_review(**kw)
    f.act("review", "2026-03-06 10:30", f.supervisor, approved=True, comment="同意")
    return f


def at_awaiting_callback(**kw: Any) -> Flow:
    f = at_in_handling(**kw)
    f.act("contact_reporter", "2026-03-06 11:00", unit(LEAD), at=iso("2026-03-06 10:55"), method="phone")
    for u in ASSISTING:
        f.act("contribute", "2026-03-06 14:00", unit(u), content=f"{u}: 线路已检查")
    f.act(
        "submit_result",
        "2026-03-09 10:00",
        unit(LEAD),
        result="更换了三盏路灯的镇流器",
        reporter_informed_at=iso("2026-03-09 09:30"),
    )
    return f


def at_rehandling(**kw: Any) -> Flow:
    """Dissatisfied once: re-handling round 1 opened at Wed 2026-03-11 10:00."""
    f = at_awaiting_callback(**kw)
    f.act("callback", "2026-03-11 10:00", HOTLINE, verdict="dissatisfied", note="还是不亮")
    return f


def rehandle(f: Flow, contact: str, submit: str, **extra: Any) -> None:
    f.act("contact_reporter", contact, unit(LEAD), at=iso(contact), method="visit")
    f.act("submit_result", submit, unit(LEAD), result="再次维修", reporter_informed_at=iso(submit), **extra)


def at_second_rehandling(**kw: Any) -> Flow:
    """Dissatisfied twice: re-handling round 2 opened at Mon 2026-03-16 10:00."""
    f = at_rehandling(**kw)
    rehandle(f, "2026-03-12 10:00", "2026-03-13 10:00", appeal_materials=["现场照片.jpg"])
    f.act("callback", "2026-03-16 10:00", HOTLINE, verdict="dissatisfied", note="仍不满意")
    return f


def at_appealing(**kw: Any) -> Flow:
    f = at_second_rehandling(**kw)
    f.act("file_appeal", "2026-03-16 11:00", CENTER, reason="已按标准修复", materials=["说明.pdf"])
    return f


BUILDERS: dict[Phase, Callable[..., Flow]] = {
    Phase.AWAITING_RECEIPT: at_awaiting_receipt,
    Phase.RECEIVED: at_received,
    Phase.IN_REVIEW: at_in_review,
    Phase.IN_HANDLING: at_in_handling,
    Phase.AWAITING_CALLBACK: at_awaiting_callback,
    Phase.REHANDLING: at_rehandling,
    Phase.APPEALING: at_appealing,
}


class TestHappyPath:
    def test_every_phase_from_transfer_to_close(self) -> None:
        """receive -> propose -> review -> handling -> result -> satisfied callback closes the order."""
        f = at_awaiting_receipt()
        phases = [f.order.phase]
        for step in (at_received, at_in_review, at_in_handling, at_awaiting_callback):
            f = step()
            phases.append(f.order.phase)
        f.act("callback", "2026-03-10 15:00", HOTLINE, verdict="satisfied", note="满意")
        s = f.order.status()
        assert phases == [
            Phase.AWAITING_RECEIPT,
            Phase.RECEIVED,
            Phase.IN_REVIEW,
            Phase.IN_HANDLING,
            Phase.AWAITING_CALLBACK,
        ]
        assert s.phase is Phase.CLOSED
        assert s.outcome is Outcome.SATISFIED
        assert s.closed_at == t("2026-03-10 15:00")
        assert s.callbacks[0].verdict == "satisfied"
        assert f.kinds()[-1] == "closed"

    @pytest.mark.parametrize("verdict", ["satisfied", "basically_satisfied"])
    def test_a_satisfied_verdict_is_the_outcome(self, verdict: str) -> None:
        """satisfied and basically_satisfied both close the order with that outcome."""
        f = at_awaiting_callback()
        f.act("callback", "2026-03-10 15:00", HOTLINE, verdict=verdict)
        assert f.order.outcome == Outcome(verdict)

    def test_proposal_asks_the_supervising_department_to_review(self) -> None:
        """A proposal goes to in_review and notifies dept-hotline, the center's supervisor."""
        f = at_in_review()
        assert f.order.phase is Phase.IN_REVIEW
        assert f.outbox("review_requested") == ["dept-hotline"]

    @pytest.mark.parametrize("category", ["heating", "gas", "road_bridge"])
    def test_utilities_categories_are_run_by_the_utilities_platform(self, category: str) -> None:
        """Heating, gas, road_bridge: the utilities operator proposes and the utilities supervisor reviews."""
        f = at_in_handling(category=category)
        s = f.order.status()
        assert s.platform == "utilities"
        assert s.phase is Phase.IN_HANDLING
        assert f.outbox("review_requested") == ["utilities"]
        assert s.proposals[-1].reviewed_by is not None
        assert s.proposals[-1].reviewed_by.org == "utilities"

    def test_refused_review_goes_back_for_a_new_proposal(self) -> None:
        """A refused review returns the order to received; the platform is told and may re-propose."""
        f = at_in_review()
        f.act("review", "2026-03-06 10:30", DEPT_HOTLINE, approved=False, comment="应由南开区办理")
        assert f.order.phase is Phase.RECEIVED
        assert f.order.assignments == []
        assert f.outbox("review_refused") == ["center"]
        assert f.act("propose", "2026-03-06 11:00", CENTER, lead_unit="district-nankai", opinion="改派")
        assert f.order.status().phase is Phase.IN_REVIEW

    def test_approval_dispatches_to_lead_and_assisting_units(self) -> None:
        """Each unit gets an assignment, an 8-hour return window and a dispatch notification."""
        f = at_in_handling()
        s = f.order.status()
        assert [(x.unit, x.role, x.state) for x in s.assignments] == [
            (LEAD, "lead", "active"),
            ("dept-lighting", "assisting", "active"),
            ("unit-lighting-center", "assisting", "active"),
        ]
        assert s.units == [LEAD, *ASSISTING]
        for x in s.assignments:
            assert x.dispatched_at == t("2026-03-06 10:30")
            assert x.return_due == t("2026-03-06 18:30")
            assert s.deadlines[f"return:{x.unit}"].due == t("2026-03-06 18:30")
        dispatches = [x for x in f.order.outbox if x.kind == "dispatch"]
        assert [x.recipient for x in dispatches] == [LEAD, *ASSISTING]
        assert all(x.channel == "notification" for x in dispatches)
        assert all(x.due == t("2026-03-17 00:00") for x in dispatches)

    def test_result_goes_to_the_city_hotline_as_a_reply(self) -> None:
        """submit_result moves to awaiting_callback and puts a `reply` in the hotline outbox."""
        f = at_awaiting_callback()
        assert f.order.phase is Phase.AWAITING_CALLBACK
        replies = [x for x in f.order.outbox if x.kind == "reply"]
        assert len(replies) == 1
        assert replies[0].channel == "hotline"
        assert replies[0].recipient == "hotline"
        assert replies[0].payload["order_no"] == "TJ2026030600123"
        assert replies[0].payload["result"] == "更换了三盏路灯的镇流器"
        assert replies[0].payload["round"] == 0

    def test_deadlines_are_met_and_nothing_is_late(self) -> None:
        """Receipt and completion carry met_at, no warning or overdue, and no *_late flag."""
        f = at_awaiting_callback()
        f.act("callback", "2026-03-10 15:00", HOTLINE, verdict="satisfied")
        s = f.order.status()
        receipt, completion = s.deadlines["receipt"], s.deadlines["completion"]
        assert receipt.met_at == t("2026-03-06 09:30")
        assert completion.met_at == t("2026-03-09 10:00")
        assert (receipt.due, completion.due) == (t("2026-03-06 12:00"), t("2026-03-17 00:00"))
        for d in (receipt, completion):
            assert d.warned_at is None
            assert d.overdue_since is None
        assert not [flag for flag in s.flags if flag.endswith("_late")]

    def test_outbox_never_carries_the_reporters_name_or_phone(self) -> None:
        """No notification or hotline message of a whole life names the reporter (style.md)."""
        f = at_awaiting_callback()
        f.act("callback", "2026-03-10 15:00", HOTLINE, verdict="satisfied")
        dumped = " ".join(x.model_dump_json() for x in f.order.outbox)
        assert REPORTER["name"] not in dumped
        assert REPORTER["phone"] not in dumped


class TestCoHandling:
    def test_result_before_contributions_is_refused_naming_the_unit(self) -> None:
        """The lead cannot submit while an assisting unit has neither contributed nor been released."""
        f = at_in_handling()
        f.act("contact_reporter", "2026-03-06 11:00", unit(LEAD), at=iso("2026-03-06 11:00"), method="phone")
        f.act("contribute", "2026-03-06 14:00", unit("dept-lighting"), content="线路已检查")
        msg = f.refuse(
            "submit_result",
            "2026-03-09 10:00",
            unit(LEAD),
            result="修好了",
            reporter_informed_at=iso("2026-03-09 09:00"),
        )
        assert "unit-lighting-center" in msg
        assert "dept-lighting" not in msg
        assert "contributed" in msg

    def test_release_lets_the_result_pass_without_that_contribution(self) -> None:
        """Released by the platform, an assisting unit no longer holds up the result."""
        f = at_in_handling()
        f.act("contact_reporter", "2026-03-06 11:00", unit(LEAD), at=iso("2026-03-06 11:00"), method="phone")
        f.act("contribute", "2026-03-06 14:00", unit("dept-lighting"), content="线路已检查")
        f.act(
            "release_assisting_unit",
            "2026-03-06 15:00",
            CENTER,
            unit="unit-lighting-center",
            reason="非其职责",
        )
        assert f.act(
            "submit_result",
            "2026-03-09 10:00",
            unit(LEAD),
            result="修好了",
            reporter_informed_at=iso("2026-03-09 09:00"),
        )
        s = f.order.status()
        assert s.phase is Phase.AWAITING_CALLBACK
        released = next(x for x in s.assignments if x.unit == "unit-lighting-center")
        assert (released.state, released.end_reason) == ("released", "非其职责")
        assert f.outbox("released") == ["unit-lighting-center"]
        assert s.units == [LEAD, "dept-lighting"]

    def test_only_an_active_assisting_unit_can_be_released(self) -> None:
        """Releasing the lead unit is refused, naming the assisting units that may be released."""
        f = at_in_handling()
        msg = f.refuse("release_assisting_unit", None, CENTER, unit=LEAD, reason="x")
        assert "not an active assisting unit" in msg
        assert "dept-lighting, unit-lighting-center" in msg

    def test_contribution_is_passed_to_the_lead(self) -> None:
        """An assisting unit's contribution is recorded on its assignment and notified to the lead."""
        f = at_in_handling()
        f.act("contribute", "2026-03-06 14:00", unit("dept-lighting"), content="线路已检查")
        x = next(a for a in f.order.status().assignments if a.unit == "dept-lighting")
        assert [c.content for c in x.contributions] == ["线路已检查"]
        assert f.outbox("contribution") == [LEAD]


class TestReturn:
    def test_lead_return_inside_8_hours_sends_the_order_back_to_received(self) -> None:
        """The lead returns at 7h59m: phase received, assisting units released, the platform told."""
        f = at_in_handling()
        assert f.act("return_order", "2026-03-06 18:29", unit(LEAD), reason="不属本区", basis="职责清单第3条")
        s = f.order.status()
        assert s.phase is Phase.RECEIVED
        states = {x.unit: (x.state, x.return_basis) for x in s.assignments}
        assert states == {
            LEAD: ("returned", "职责清单第3条"),
            "dept-lighting": ("released", ""),
            "unit-lighting-center": ("released", ""),
        }
        assert s.units == []
        assert f.outbox("unit_returned") == ["center"]
        assert "back_to_platform" in f.kinds()

    def test_assisting_return_keeps_the_order_in_handling(self) -> None:
        """An assisting unit's return ends only its assignment; the result no longer waits for it."""
        f = at_in_handling()
        f.act("return_order", "2026-03-06 12:00", unit("dept-lighting"), reason="非本处职责", basis="三定方案")
        s = f.order.status()
        assert s.phase is Phase.IN_HANDLING
        assert s.units == [LEAD, "unit-lighting-center"]

    def test_return_after_8_hours_is_refused_saying_when_the_window_closed(self) -> None:
        """At 8h01m the return is refused: the message names the 8-hour window and its closing instant."""
        f = at_in_handling()
        msg = f.refuse("return_order", "2026-03-06 18:31", unit(LEAD), reason="不属本区", basis="职责清单")
        assert "8-hour return window" in msg
        assert LEAD in msg
        assert "2026-03-06T18:30+08:00" in msg

    def test_a_unit_that_returned_cannot_be_proposed_again(self) -> None:
        """Re-proposing the unit that returned is refused; another unit is accepted."""
        f = at_in_handling()
        f.act("return_order", "2026-03-06 12:00", unit(LEAD), reason="不属本区", basis="职责清单")
        msg = f.refuse("propose", "2026-03-06 13:00", CENTER, lead_unit=LEAD, opinion="再派")
        assert "returned this order already" in msg
        assert f.act("propose", "2026-03-06 13:00", CENTER, lead_unit="district-nankai", opinion="改派南开")
        assert f.order.phase is Phase.IN_REVIEW

    def test_return_window_closing_is_no_lateness(self) -> None:
        """The 8-hour window is a right, not a duty: its passing flags nothing."""
        f = at_in_handling()
        f.to("2026-03-06 20:00")
        assert "return_window_closed" in f.kinds()
        assert not [flag for flag in f.order.flags if flag.endswith("_late")]


class TestReturnToHotline:
    @pytest.mark.parametrize("phase", [Phase.AWAITING_RECEIPT, Phase.RECEIVED, Phase.IN_REVIEW])
    def test_before_handling_closes_returned_to_hotline(self, phase: Phase) -> None:
        """The platform gives the order back: outcome returned_to_hotline and a hotline `return` message."""
        f = BUILDERS[phase]()
        f.act("return_to_hotline", "2026-03-06 11:00", CENTER, reason="不属城管职责")
        assert f.order.phase is Phase.CLOSED
        assert f.order.outcome is Outcome.RETURNED_TO_HOTLINE
        items = [x for x in f.order.outbox if x.kind == "return"]
        assert [(x.channel, x.recipient) for x in items] == [("hotline", "hotline")]
        assert items[0].payload["reason"] == "不属城管职责"

    def test_after_the_lead_units_return(self) -> None:
        """After the lead unit returned, the platform may return the order to the city hotline."""
        f = at_in_handling()
        f.act("return_order", "2026-03-06 12:00", unit(LEAD), reason="不属本区", basis="职责清单")
        f.act("return_to_hotline", "2026-03-06 13:00", CENTER, reason="无对应承办单位")
        assert f.order.outcome is Outcome.RETURNED_TO_HOTLINE

    def test_refused_while_in_handling(self) -> None:
        """Once units handle the order, it cannot be returned to the city hotline."""
        msg = at_in_handling().refuse("return_to_hotline", None, CENTER, reason="x")
        assert "the order is in_handling" in msg


def _request(f: Flow, when: str, requested_due: str = "2026-03-24 00:00", **kw: Any) -> bool:
    return f.act(
        "request_extension",
        when,
        unit(LEAD),
        reason="需更换电缆，材料未到",
        requested_due=iso(requested_due),
        reporter_notified_at=iso("2026-03-10 09:00"),
        written_reply="已电话告知市民",
        **kw,
    )


class TestExtension:
    def test_approved_moves_the_deadline_to_the_approved_instant(self) -> None:
        """Approved: due = approved_due, the explanation says so, extension_pending set then cleared."""
        f = at_in_handling()
        _request(f, "2026-03-10 10:00")
        assert "extension_pending" in f.order.flags
        app = [x for x in f.order.outbox if x.kind == "extension_application"]
        assert [x.channel for x in app] == ["hotline"]
        assert app[0].payload["requested_due"] == iso("2026-03-24 00:00")
        assert f.order.deadlines["completion"].due == t("2026-03-17 00:00")  # stands while pending
        f.act(
            "extension_decision",
            "2026-03-11 10:00",
            HOTLINE,
            approved=True,
            approved_due=iso("2026-03-20 00:00"),
        )
        s = f.order.status()
        d = s.deadlines["completion"]
        assert d.due == t("2026-03-20 00:00")
        assert "extended" in d.explanation
        assert d.warn_at == d.start + (d.due - d.start) * 0.8
        assert "extension_pending" not in s.flags
        assert s.extensions[0].decision == "approved"
        assert f.outbox("extension_decision") == ["center", LEAD]

    def test_refused_leaves_the_deadline(self) -> None:
        """Refused: the deadline stays and the pending flag is cleared."""
        f = at_in_handling()
        _request(f, "2026-03-10 10:00")
        f.act("extension_decision", "2026-03-11 10:00", HOTLINE, approved=False, note="不予延期")
        s = f.order.status()
        assert s.deadlines["completion"].due == t("2026-03-17 00:00")
        assert s.extensions[0].decision == "refused"
        assert "extension_pending" not in s.flags

    def test_asked_after_the_deadline_is_refused(self) -> None:
        """After the completion deadline passed, no extension may be asked for."""
        f = at_in_handling()
        msg = f.refuse(
            "request_extension",
            "2026-03-17 09:00",
            unit(LEAD),
            reason="来不及",
            requested_due=iso("2026-03-24 00:00"),
            reporter_notified_at=iso("2026-03-17 08:00"),
            written_reply="已告知",
        )
        assert "passed" in msg
        assert "2026-03-17T00:00+08:00" in msg

    def test_a_second_request_while_one_is_pending_is_refused(self) -> None:
        """Only one extension may wait for the city hotline at a time."""
        f = at_in_handling()
        _request(f, "2026-03-10 10:00")
        with pytest.raises(Rejected, match="already pending"):
            _request(f, "2026-03-10 11:00", "2026-03-25 00:00")

    def test_decision_with_nothing_pending_is_refused(self) -> None:
        """extension_decision without a pending extension is refused."""
        f = at_in_handling()
        msg = f.refuse("extension_decision", None, HOTLINE, approved=False)
        assert "no extension is pending" in msg

    def test_requested_due_must_be_later_than_the_deadline(self) -> None:
        """A requested_due at or before the current deadline is refused, naming both."""
        f = at_in_handling()
        with pytest.raises(Rejected, match="not later than"):
            _request(f, "2026-03-10 10:00", "2026-03-16 00:00")

    def test_a_pending_extension_does_not_stop_the_clock(self) -> None:
        """While pending the deadline stands: it goes overdue, and the late flag survives approval."""
        f = at_in_handling()
        _request(f, "2026-03-16 10:00")
        f.to("2026-03-17 00:00")
        assert "completion_late" in f.order.flags
        f.act(
            "extension_decision",
            "2026-03-17 10:00",
            HOTLINE,
            approved=True,
            approved_due=iso("2026-03-24 00:00"),
        )
        assert f.order.deadlines["completion"].due == t("2026-03-24 00:00")
        assert "completion_late" in f.order.flags

    def test_approval_re_arms_the_warning(self) -> None:
        """A warning already sent is armed again at 80% of the extended window."""
        f = at_in_handling()
        _request(f, "2026-03-16 10:00")
        assert f.order.deadlines["completion"].warned_at == t("2026-03-14 21:00")
        f.act(
            "extension_decision",
            "2026-03-16 12:00",
            HOTLINE,
            approved=True,
            approved_due=iso("2026-03-24 00:00"),
        )
        d = f.order.deadlines["completion"]
        assert d.warned_at is None
        assert d.warn_at == t("2026-03-20 11:24")  # 3/6 09:00 + 0.8 * 423h
        assert f.order.next_timer() == (d.warn_at, "completion warning")

    def test_an_approved_instant_depends_on_no_calendar(self) -> None:
        """An unconfirmed 2027 deadline extended to a fixed instant is confirmed; the flag goes."""
        f = Flow(new_order("2026-12-30 10:00"))
        f.act("receive", "2026-12-30 10:30", CENTER)
        f.act("propose", "2026-12-30 11:00", CENTER, lead_unit=LEAD, opinion="x")
        f.act("review", "2026-12-30 11:30", DEPT_HOTLINE, approved=True)
        assert "calendar_unconfirmed" in f.order.flags
        f.act(
            "request_extension",
            "2027-01-04 10:00",
            unit(LEAD),
            reason="材料未到",
            requested_due=iso("2027-01-20 00:00"),
            reporter_notified_at=iso("2027-01-04 09:00"),
            written_reply="已告知",
        )
        f.act(
            "extension_decision",
            "2027-01-05 10:00",
            HOTLINE,
            approved=True,
            approved_due=iso("2027-01-20 00:00"),
        )
        d = f.order.deadlines["completion"]
        assert d.due == t("2027-01-20 00:00")
        assert d.calendar_confirmed is True
        assert "calendar_unconfirmed" not in f.order.flags


class TestRehandling:
    @pytest.mark.parametrize(
        ("tier", "due"),
        [
            ("normal", "2026-03-20 00:00"),  # 3/12 13 16 17 18 19
            ("urgent", "2026-03-14 00:00"),  # 3/12 13
            ("very_urgent", "2026-03-13 00:00"),  # 3/12
        ],
    )
    def test_dissatisfied_opens_a_round_with_a_fresh_deadline(self, tier: str, due: str) -> None:
        """Round 1 gets `rehandling_1`: the working-day rule from the callback's arrival (Wed 10:00)."""
        f = at_rehandling(tier=tier)
        s = f.order.status()
        assert s.phase is Phase.REHANDLING
        assert s.rehandling_round == 1
        d = s.deadlines["rehandling_1"]
        assert d.start == t("2026-03-11 10:00")
        assert d.due == t(due)
        assert d.due == completion_deadline(RB, CAL, t("2026-03-11 10:00"), tier=Tier(tier)).due
        assert d.due == rehandling_deadline(RB, CAL, t("2026-03-11 10:00"), tier=Tier(tier)).due
        assert "callback arrived Wed 2026-03-11 10:00" in d.explanation
        assert "dissatisfied" in s.flags
        assert f.outbox("rehandling") == [LEAD, "center"]

    def test_only_the_lead_unit_acts_in_rehandling(self) -> None:
        """An assisting unit of the first round is refused in re-handling, naming the lead."""
        f = at_rehandling()
        msg = f.refuse("contact_reporter", None, unit("dept-lighting"), at=iso("2026-03-11 10:00"), method="phone")
        assert f"lead unit {LEAD}" in msg

    def test_the_lead_sees_the_rehandling_deadline(self) -> None:
        """In re-handling, the lead's handling order carries the round and its fresh deadline."""
        h = at_rehandling().order.handling_order(LEAD)
        assert (h.phase, h.rehandling_round) == (Phase.REHANDLING, 1)
        assert h.completion_due == t("2026-03-20 00:00")

    def test_the_round_needs_its_own_contact_with_the_reporter(self) -> None:
        """The first round's contact does not count for re-handling: submit_result waits for a new one."""
        f = at_rehandling()
        msg = f.refuse(
            "submit_result",
            "2026-03-12 10:00",
            unit(LEAD),
            result="再修",
            reporter_informed_at=iso("2026-03-12 09:00"),
        )
        assert "re-handling round 1" in msg

    def test_rehandled_result_then_satisfied_closes(self) -> None:
        """Re-handling result -> reply round 1 -> satisfied: closed, rehandling_1 met."""
        f = at_rehandling()
        rehandle(f, "2026-03-12 10:00", "2026-03-13 10:00")
        replies = [x.payload["round"] for x in f.order.outbox if x.kind == "reply"]
        assert replies == [0, 1]
        f.act("callback", "2026-03-16 10:00", HOTLINE, verdict="satisfied")
        s = f.order.status()
        assert s.outcome is Outcome.SATISFIED
        assert s.deadlines["rehandling_1"].met_at == t("2026-03-13 10:00")
        assert not [flag for flag in s.flags if flag.endswith("_late")]


class TestAppeal:
    @pytest.mark.parametrize(("upheld", "outcome"), [(True, Outcome.APPEAL_UPHELD), (False, Outcome.APPEAL_REJECTED)])
    def test_appeal_after_two_dissatisfied_callbacks_is_decided_by_the_hotline(
        self, upheld: bool, outcome: Outcome
    ) -> None:
        """Dissatisfied twice -> file_appeal -> appeal_decision closes with appeal_upheld / _rejected."""
        f = at_appealing()
        s = f.order.status()
        assert s.phase is Phase.APPEALING
        assert "appealed" in s.flags
        appeal = next(x for x in f.order.outbox if x.kind == "appeal")
        assert appeal.channel == "hotline"
        assert appeal.payload["materials"] == ["说明.pdf", "现场照片.jpg"]
        f.act("appeal_decision", "2026-03-20 10:00", HOTLINE, upheld=upheld, note="")
        s = f.order.status()
        assert s.outcome is outcome
        assert s.appeal is not None
        assert s.appeal.upheld is upheld
        assert f.outbox("appeal_decision") == ["center"]

    def test_appeal_only_after_a_dissatisfied_callback(self) -> None:
        """file_appeal while awaiting the callback is refused, naming the phase."""
        msg = at_awaiting_callback().refuse("file_appeal", None, CENTER, reason="x")
        assert "the order is awaiting_callback" in msg

    def test_appeal_decision_without_an_appeal_is_refused(self) -> None:
        """appeal_decision with no appeal pending is refused."""
        msg = at_rehandling().refuse("appeal_decision", None, HOTLINE, upheld=True)
        assert "no appeal is pending" in msg

    def test_exhausted_rounds_close_dissatisfied(self) -> None:
        """A third dissatisfied callback (the rulebook allows 2 rounds) closes the order dissatisfied."""
        f = at_second_rehandling()
        rehandle(f, "2026-03-17 10:00", "2026-03-18 10:00")
        f.act("callback", "2026-03-19 10:00", HOTLINE, verdict="dissatisfied")
        s = f.order.status()
        assert s.phase is Phase.CLOSED
        assert s.outcome is Outcome.DISSATISFIED
        assert s.rehandling_round == RB.rehandling_rounds == 2
        assert "rehandling_exhausted" in f.kinds()
        assert "rehandling_3" not in s.deadlines


class TestWithdraw:
    @pytest.mark.parametrize("phase", list(BUILDERS))
    def test_withdraw_closes_the_order_in_any_phase(self, phase: Phase) -> None:
        """The city hotline withdraws at any phase before close; the platform and active units are told."""
        f = BUILDERS[phase]()
        units = f.order.units()
        f.act("withdraw", "2026-03-20 10:00", HOTLINE, reason="市民撤诉")
        s = f.order.status()
        assert s.phase is Phase.CLOSED
        assert s.outcome is Outcome.WITHDRAWN
        assert f.outbox("withdrawn") == ["center", *units]
        assert f.order.next_timer() is None

    @pytest.mark.parametrize(
        ("name", "who", "fields"),
        [
            ("receive", CENTER, {}),
            ("withdraw", HOTLINE, {"reason": "再撤"}),
            ("callback", HOTLINE, {"verdict": "satisfied"}),
            ("contact_reporter", unit(LEAD), {"at": "2026-03-06T11:00:00+08:00", "method": "phone"}),
        ],
    )
    def test_no_action_is_accepted_after_close(self, name: str, who: dict[str, str], fields: Any) -> None:
        """A closed order refuses every action, saying it is closed."""
        f = at_in_handling()
        f.act("withdraw", "2026-03-06 12:00", HOTLINE, reason="市民撤诉")
        msg = f.refuse(name, "2026-03-06 13:00", who, **fields)
        assert "closed" in msg
        assert "withdrawn" in msg
        assert f.order.fire_due(t("2026-04-30 00:00")) is False


class TestNoCallback:
    def test_callback_wait_closes_no_callback_at_the_instant(self) -> None:
        """30 days after the reply with no callback the order closes no_callback; a second earlier, not."""
        f = at_awaiting_callback()
        wait_end = t("2026-03-09 10:00") + RB.callback_wait
        assert wait_end == t("2026-04-08 10:00")
        assert f.order.next_timer() == (wait_end, "callback wait")
        before = f.order.status()
        assert f.order.fire_due(wait_end - timedelta(seconds=1)) is False
        assert f.order.status() == before
        assert f.order.fire_due(wait_end) is True
        s = f.order.status()
        assert s.outcome is Outcome.NO_CALLBACK
        assert s.closed_at == wait_end
        assert "no_callback" in f.kinds()


class TestLateArrival:
    @pytest.mark.parametrize(
        ("now", "flags", "completion_overdue"),
        [
            ("2026-03-05 10:00", ["receipt_late"], False),
            ("2026-03-12 10:00", ["receipt_late", "completion_late"], True),
        ],
    )
    def test_missed_windows_are_marked_at_construction(
        self, now: str, flags: list[str], completion_overdue: bool
    ) -> None:
        """Dispatched Mon 2026-03-02 09:00 and arriving days later: missed windows are warned and overdue."""
        f = Flow(new_order("2026-03-02 09:00"), now=t(now))
        s = f.order.status()
        receipt, completion = s.deadlines["receipt"], s.deadlines["completion"]
        assert receipt.due == t("2026-03-02 12:00")
        assert completion.due == t("2026-03-11 00:00")
        assert receipt.warned_at == t(now)
        assert receipt.overdue_since == receipt.due
        assert (completion.overdue_since is not None) is completion_overdue
        assert [flag for flag in s.flags if flag.endswith("_late")] == flags
        assert f.outbox("receipt_warning") == ["center", "dept-hotline"]
        assert f.outbox("receipt_overdue") == ["center", "dept-hotline"]
        assert ("completion_overdue" in f.kinds()) is completion_overdue

    def test_receiving_later_never_forgives_the_late_receipt(self) -> None:
        """A late order received afterwards has receipt met_at set and keeps receipt_late."""
        f = Flow(new_order("2026-03-02 09:00"), now=t("2026-03-05 10:00"))
        f.act("receive", "2026-03-05 10:30", CENTER)
        d = f.order.deadlines["receipt"]
        assert d.met_at == t("2026-03-05 10:30")
        assert d.overdue_since == t("2026-03-02 12:00")
        assert "receipt_late" in f.order.flags

    def test_late_completion_stays_flagged_after_the_result(self) -> None:
        """A result after the completion deadline is met late: completion_late stays."""
        f = at_in_handling()
        f.act("contact_reporter", "2026-03-06 11:00", unit(LEAD), at=iso("2026-03-06 11:00"), method="phone")
        f.act("release_assisting_unit", "2026-03-06 12:00", CENTER, unit="dept-lighting", reason="x")
        f.act("release_assisting_unit", "2026-03-06 12:00", CENTER, unit="unit-lighting-center", reason="x")
        f.act(
            "submit_result",
            "2026-03-18 10:00",
            unit(LEAD),
            result="修好",
            reporter_informed_at=iso("2026-03-18 09:00"),
        )
        d = f.order.deadlines["completion"]
        assert d.met_at == t("2026-03-18 10:00")
        assert d.overdue_since == t("2026-03-17 00:00")
        assert "completion_late" in f.order.flags


def _warn(start: datetime, due: datetime) -> datetime:
    return start + (due - start) * RB.warning_fraction


TIMER_CASES = [
    pytest.param(
        "2026-03-06 15:00",  # Fri, working period; the weekend lies inside the completion window
        "2026-03-06 17:24",
        "2026-03-06 18:00",
        "2026-03-14 22:12",
        "2026-03-17 00:00",
        id="friday-afternoon",
    ),
    pytest.param(
        "2026-09-30 16:30",  # Wed after work; the 7-day National Day break follows
        "2026-10-07 15:18",
        "2026-10-09 09:00",
        "2026-10-12 03:18",
        "2026-10-15 00:00",
        id="before-national-day",
    ),
]


class TestTimers:
    @pytest.mark.parametrize(
        ("dispatched_at", "receipt_warn", "receipt_due", "completion_warn", "completion_due"), TIMER_CASES
    )
    def test_deadlines_and_warning_instants(
        self,
        dispatched_at: str,
        receipt_warn: str,
        receipt_due: str,
        completion_warn: str,
        completion_due: str,
    ) -> None:
        """Both deadlines, and warnings at start + 0.8 * (due - start)."""
        f = Flow(new_order(dispatched_at))
        r, c = f.order.deadlines["receipt"], f.order.deadlines["completion"]
        start = t(dispatched_at)
        assert (r.due, c.due) == (t(receipt_due), t(completion_due))
        assert (r.warn_at, c.warn_at) == (t(receipt_warn), t(completion_warn))
        assert r.warn_at == _warn(start, r.due)
        assert c.warn_at == _warn(start, c.due)
        assert r.calendar_confirmed
        assert c.calendar_confirmed

    def test_national_day_receipt_explains_itself(self) -> None:
        """The receipt deadline over the National Day break reads as rulebook.md says."""
        f = Flow(new_order("2026-09-30 16:30"))
        text = f.order.deadlines["receipt"].explanation
        assert "dispatched Wed 2026-09-30 16:30 (non-working period)" in text
        assert "work resumes Thu 2026-10-08 09:00" in text
        assert "+24h = Fri 2026-10-09 09:00" in text

    @pytest.mark.parametrize(
        ("dispatched_at", "receipt_warn", "receipt_due", "completion_warn", "completion_due"), TIMER_CASES
    )
    def test_timers_fire_exactly_at_their_instants(
        self,
        dispatched_at: str,
        receipt_warn: str,
        receipt_due: str,
        completion_warn: str,
        completion_due: str,
    ) -> None:
        """next_timer names each instant in turn; fire_due a second early does nothing, at it fires."""
        f = Flow(new_order(dispatched_at))
        o = f.order
        steps = [
            (receipt_warn, "receipt window warning"),
            (receipt_due, "receipt window"),
            (completion_warn, "completion warning"),
            (completion_due, "completion deadline"),
        ]
        for when, name in steps:
            instant = t(when)
            assert o.next_timer() == (instant, name)
            before = o.status()
            assert o.fire_due(instant - timedelta(seconds=1)) is False
            assert o.status() == before
            assert o.fire_due(instant) is True
        s = o.status()
        assert s.deadlines["receipt"].warned_at == t(receipt_warn)
        assert s.deadlines["receipt"].overdue_since == t(receipt_due)
        assert s.deadlines["completion"].warned_at == t(completion_warn)
        assert s.deadlines["completion"].overdue_since == t(completion_due)
        assert s.flags == ["receipt_late", "completion_late"]
        assert o.next_timer() is None
        kinds = [e.kind for e in s.timeline]
        assert kinds[-4:] == [
            "receipt_warning",
            "receipt_overdue",
            "completion_warning",
            "completion_overdue",
        ]

    def test_receipt_warning_and_overdue_go_to_platform_and_supervisor(self) -> None:
        """Receipt escalations go to the center's platform and dept-hotline, with the due instant."""
        f = Flow(new_order("2026-03-06 15:00"))
        f.to("2026-03-06 18:00")
        warn = [x for x in f.order.outbox if x.kind == "receipt_warning"]
        assert [x.recipient for x in warn] == ["center", "dept-hotline"]
        assert all(x.due == t("2026-03-06 18:00") for x in warn)
        assert f.outbox("receipt_overdue") == ["center", "dept-hotline"]

    def test_utilities_receipt_escalations_go_to_utilities(self) -> None:
        """For a heating order the platform and its supervising department are both `utilities`."""
        f = Flow(new_order("2026-03-06 15:00", category="heating"))
        f.to("2026-03-06 18:00")
        assert f.outbox("receipt_warning") == ["utilities"]
        assert f.outbox("receipt_overdue") == ["utilities"]

    def test_completion_escalations_go_to_lead_platform_and_supervisor(self) -> None:
        """Completion warning (Sat 3/14 21:00) and overdue (3/17) reach the lead, center, dept-hotline."""
        f = at_in_handling()
        warn_at = _warn(t(D0), t("2026-03-17 00:00"))
        assert warn_at == t("2026-03-14 21:00")
        f.to(warn_at - timedelta(seconds=1))
        assert f.outbox("completion_warning") == []
        f.to(warn_at)
        assert f.outbox("completion_warning") == [LEAD, "center", "dept-hotline"]
        f.to("2026-03-17 00:00")
        assert f.outbox("completion_overdue") == [LEAD, "center", "dept-hotline"]
        assert "completion_late" in f.order.flags
        assert f.order.phase is Phase.IN_HANDLING


def _refusal_case(
    phase: Phase, name: str, who: dict[str, str], fields: dict[str, Any], *expected: str, **kw: Any
) -> Any:
    return pytest.param(phase, name, who, fields, expected, kw, id=f"{name}-by-{who['org']}-{who['role']}")


CONTACT = {"at": "2026-03-06T09:00:00+08:00", "method": "phone"}
RESULT = {"result": "修好", "reporter_informed_at": "2026-03-06T09:00:00+08:00"}
EXTENSION = {
    "reason": "x",
    "requested_due": "2026-03-24T00:00:00+08:00",
    "reporter_notified_at": "2026-03-06T09:00:00+08:00",
    "written_reply": "x",
}


class TestStanding:
    @pytest.mark.parametrize(
        ("phase", "name", "who", "fields", "expected", "kw"),
        [
            _refusal_case(
                Phase.IN_REVIEW,
                "review",
                actor("district-hexi", "supervisor"),
                {"approved": True},
                "district-hexi (supervisor) has no standing",
                "org 'dept-hotline', role 'supervisor'",
            ),
            _refusal_case(
                Phase.IN_REVIEW,
                "review",
                actor("dept-hotline", "operator"),
                {"approved": True},
                "role 'supervisor'",
            ),
            _refusal_case(
                Phase.IN_REVIEW,
                "review",
                actor("center", "supervisor"),
                {"approved": True},
                "org 'dept-hotline'",
            ),
            _refusal_case(
                Phase.IN_REVIEW,
                "review",
                DEPT_HOTLINE,
                {"approved": True},
                "org 'utilities', role 'supervisor'",
                category="gas",
            ),
            _refusal_case(Phase.AWAITING_RECEIPT, "receive", unit(LEAD), {}, "the center platform's operator"),
            _refusal_case(
                Phase.AWAITING_RECEIPT,
                "receive",
                CENTER,
                {},
                "the utilities platform's operator (org 'utilities', role 'operator')",
                category="heating",
            ),
            _refusal_case(
                Phase.RECEIVED,
                "propose",
                CENTER,
                {"lead_unit": LEAD, "opinion": "x"},
                "utilities platform's operator",
                category="road_bridge",
            ),
            _refusal_case(
                Phase.RECEIVED,
                "propose",
                HOTLINE,
                {"lead_unit": LEAD, "opinion": "x"},
                "center platform's operator",
            ),
            _refusal_case(
                Phase.IN_HANDLING,
                "contact_reporter",
                unit("dept-roads"),
                CONTACT,
                "dept-roads (handler) is not a unit assigned",
                f"{LEAD}, dept-lighting, unit-lighting-center",
            ),
            _refusal_case(
                Phase.IN_HANDLING, "contact_reporter", actor(LEAD, "operator"), CONTACT, "not a unit assigned"
            ),
            _refusal_case(
                Phase.IN_HANDLING,
                "submit_result",
                unit("dept-lighting"),
                RESULT,
                f"allowed: the lead unit {LEAD}",
            ),
            _refusal_case(
                Phase.IN_HANDLING,
                "request_extension",
                unit("dept-lighting"),
                EXTENSION,
                f"the lead unit {LEAD}",
            ),
            _refusal_case(Phase.IN_HANDLING, "contribute", unit(LEAD), {"content": "x"}, "allowed: assisting units"),
            _refusal_case(Phase.IN_HANDLING, "return_order", unit("dept-roads"), {"reason": "x", "basis": "y"}, LEAD),
            _refusal_case(
                Phase.IN_HANDLING,
                "release_assisting_unit",
                unit(LEAD),
                {"unit": "dept-lighting", "reason": "x"},
                "platform's operator",
            ),
            _refusal_case(Phase.IN_HANDLING, "withdraw", CENTER, {"reason": "x"}, "the city hotline (org 'hotline'"),
            _refusal_case(Phase.IN_HANDLING, "extension_decision", CENTER, {"approved": False}, "the city hotline"),
            _refusal_case(Phase.AWAITING_CALLBACK, "callback", CENTER, {"verdict": "satisfied"}, "the city hotline"),
            _refusal_case(
                Phase.AWAITING_CALLBACK,
                "callback",
                actor("hotline", "operator"),
                {"verdict": "satisfied"},
                "role 'hotline'",
            ),
            _refusal_case(Phase.REHANDLING, "file_appeal", unit(LEAD), {"reason": "x"}, "center platform's operator"),
            _refusal_case(Phase.APPEALING, "appeal_decision", CENTER, {"upheld": True}, "the city hotline"),
        ],
    )
    def test_an_actor_without_standing_is_refused_naming_who_may(
        self,
        phase: Phase,
        name: str,
        who: dict[str, str],
        fields: dict[str, Any],
        expected: tuple[str, ...],
        kw: dict[str, Any],
    ) -> None:
        """The refusal says the action, that the sender has no standing, and who may send it."""
        msg = BUILDERS[phase](**kw).refuse(name, None, who, **fields)
        assert msg.startswith(f"{name} refused")
        for part in expected:
            assert part in msg

    @pytest.mark.parametrize(
        ("phase", "name", "who", "fields", "expected", "kw"),
        [
            _refusal_case(
                Phase.AWAITING_RECEIPT,
                "propose",
                CENTER,
                {"lead_unit": LEAD, "opinion": "x"},
                "the order is awaiting_receipt; allowed only when received",
            ),
            _refusal_case(
                Phase.RECEIVED,
                "receive",
                CENTER,
                {},
                "the order is received; allowed only when awaiting_receipt",
            ),
            _refusal_case(
                Phase.RECEIVED,
                "contact_reporter",
                unit(LEAD),
                CONTACT,
                "the order is received; allowed only when in_handling or rehandling",
            ),
            _refusal_case(Phase.IN_REVIEW, "propose", CENTER, {"lead_unit": LEAD, "opinion": "x"}, "is in_review"),
            _refusal_case(Phase.IN_HANDLING, "review", DEPT_HOTLINE, {"approved": True}, "is in_handling"),
            _refusal_case(
                Phase.IN_HANDLING,
                "callback",
                HOTLINE,
                {"verdict": "satisfied"},
                "the order is in_handling; allowed only when awaiting_callback",
            ),
            _refusal_case(
                Phase.AWAITING_CALLBACK,
                "contribute",
                unit("dept-lighting"),
                {"content": "x"},
                "the order is awaiting_callback; allowed only when in_handling",
            ),
            _refusal_case(
                Phase.REHANDLING,
                "return_order",
                unit(LEAD),
                {"reason": "x", "basis": "y"},
                "the order is rehandling; allowed only when in_handling",
            ),
            _refusal_case(Phase.AWAITING_CALLBACK, "file_appeal", CENTER, {"reason": "x"}, "is awaiting_callback"),
        ],
    )
    def test_wrong_phase_is_refused_naming_the_phase(
        self,
        phase: Phase,
        name: str,
        who: dict[str, str],
        fields: dict[str, Any],
        expected: tuple[str, ...],
        kw: dict[str, Any],
    ) -> None:
        """An action outside its phases is refused with the current phase and the allowed ones."""
        msg = BUILDERS[phase](**kw).refuse(name, None, who, **fields)
        for part in expected:
            assert part in msg

    @pytest.mark.parametrize(
        ("name", "raw", "expected"),
        [
            (
                "contact_reporter",
                {"actor": unit(LEAD), "at": "2026-03-06T09:00:00+08:00"},
                "method: required field is missing",
            ),
            (
                "contact_reporter",
                {"actor": unit(LEAD), "at": "2026-03-06T09:00:00", "method": "phone"},
                "at: a naive datetime is not allowed",
            ),
            ("contact_reporter", {"actor": unit(LEAD), "at": "yesterday", "method": "phone"}, "at:"),
            (
                "contact_reporter",
                {"actor": unit(LEAD), "at": "2026-03-06T09:00:00+08:00", "method": "fax"},
                "method:",
            ),
            ("review", {"actor": DEPT_HOTLINE, "approved": []}, "approved:"),
            (
                "propose",
                {"actor": CENTER, "lead_unit": LEAD, "assisting_units": "dept-roads", "opinion": "x"},
                "assisting_units:",
            ),
            ("propose", {"actor": CENTER, "lead_unit": LEAD}, "opinion: required field is missing"),
            ("propose", {"actor": CENTER, "lead_unit": "dept-nowhere", "opinion": "x"}, "lead_unit:"),
            (
                "request_extension",
                {"actor": unit(LEAD), **EXTENSION, "requested_due": "2026-03-24T00:00:00"},
                "requested_due: a naive datetime",
            ),
            ("extension_decision", {"actor": HOTLINE, "approved": True}, "approved_due is required"),
            ("callback", {"actor": HOTLINE, "verdict": "meh"}, "verdict:"),
            ("receive", {}, "actor: required field is missing"),
            ("receive", {"actor": {"org": "nobody", "person": "x", "role": "operator"}}, "actor.org:"),
            ("receive", {"actor": {"org": "center", "person": "x", "role": "boss"}}, "actor.role:"),
            ("receive", {"actor": CENTER, "colour": "red"}, "colour: unknown field"),
            ("receive", ["not", "an", "object"], "must be a JSON object"),
            ("close", {"actor": CENTER}, "unknown action 'close'"),
        ],
    )
    def test_malformed_payload_is_refused_naming_the_field(self, name: str, raw: Any, expected: str) -> None:
        """A payload that breaks its schema is refused, naming the field; nothing changes."""
        f = at_in_handling()
        before = f.order.status()
        with pytest.raises(Rejected) as err:
            f.order.act(name, raw, f.now)
        assert expected in str(err.value)
        assert f.order.status() == before

    @pytest.mark.parametrize(
        ("phase", "name", "fields", "who", "accepted"),
        [
            (Phase.AWAITING_RECEIPT, "receive", {}, CENTER, True),
            (Phase.IN_REVIEW, "review", {"approved": True}, DEPT_HOTLINE, True),
            (Phase.IN_HANDLING, "withdraw", {"reason": "x"}, HOTLINE, True),
            (Phase.IN_HANDLING, "return_order", {"reason": "x", "basis": "y"}, unit(LEAD), True),
            (Phase.AWAITING_CALLBACK, "callback", {"verdict": "dissatisfied"}, HOTLINE, True),
            (Phase.IN_HANDLING, "callback", {"verdict": "satisfied"}, HOTLINE, False),
            (Phase.IN_REVIEW, "review", {"approved": True}, unit(LEAD), False),
        ],
    )
    def test_check_never_changes_state(
        self, phase: Phase, name: str, fields: dict[str, Any], who: dict[str, str], accepted: bool
    ) -> None:
        """check accepts or refuses, and leaves status, outbox and request ids exactly as they were."""
        f = BUILDERS[phase]()
        before, outbox, revision = f.order.status(), list(f.order.outbox), f.order.revision
        raw = {"actor": who, "request_id": "chk", **fields}
        if accepted:
            assert f.order.check(name, raw, f.now) is not None
        else:
            with pytest.raises(Rejected):
                f.order.check(name, raw, f.now)
        assert f.order.status() == before
        assert f.order.outbox == outbox
        assert f.order.revision == revision
        assert "chk" not in f.order.request_ids

    def test_a_contact_in_the_future_is_refused(self) -> None:
        """A contact more than the clock skew ahead of now is refused, naming the field."""
        f = at_in_handling()
        msg = f.refuse("contact_reporter", None, unit(LEAD), at=iso("2026-03-06 12:00"), method="phone")
        assert "at 2026-03-06T12:00+08:00 lies in the future" in msg

    def test_check_returns_the_parsed_action(self) -> None:
        """An acceptable action checks to its model; the same action then applies."""
        f = at_awaiting_receipt()
        parsed = f.order.check("receive", {"actor": CENTER}, f.now)
        assert isinstance(parsed, Receive)
        assert f.order.phase is Phase.AWAITING_RECEIPT
        assert f.act("receive", "2026-03-06 09:30", CENTER)


class TestRequestId:
    def test_the_same_request_id_takes_effect_once(self) -> None:
        """Sent twice, an action applies once: the second act returns False and changes nothing."""
        f = at_in_handling()
        fields = {"at": iso("2026-03-06 11:00"), "method": "phone", "request_id": "c-1"}
        assert f.act("contact_reporter", "2026-03-06 11:00", unit(LEAD), **fields) is True
        before = f.order.status()
        assert f.act("contact_reporter", "2026-03-06 11:05", unit(LEAD), **fields) is False
        assert f.order.status() == before
        lead = next(x for x in f.order.status().assignments if x.unit == LEAD)
        assert len(lead.contacts) == 1

    def test_a_repeat_is_accepted_even_after_the_phase_moved_on(self) -> None:
        """A retried receive after it took effect is a repeat (False), not a wrong-phase refusal."""
        f = at_awaiting_receipt()
        assert f.act("receive", "2026-03-06 09:30", CENTER, request_id="r-1") is True
        assert f.act("receive", "2026-03-06 09:31", CENTER, request_id="r-1") is False
        assert f.kinds().count("received") == 1

    def test_a_request_id_reused_for_another_action_is_refused(self) -> None:
        """A request_id already used for receive cannot carry a propose."""
        f = at_awaiting_receipt()
        f.act("receive", "2026-03-06 09:30", CENTER, request_id="r-1")
        msg = f.refuse("propose", None, CENTER, lead_unit=LEAD, opinion="x", request_id="r-1")
        assert "request_id 'r-1' was already used for receive" in msg


class TestSignals:
    def test_reject_records_the_refused_signal_with_its_reason(self) -> None:
        """A refused signal lands in rejected_actions (who, request_id, reason) and changes nothing else."""
        f = at_awaiting_receipt()
        raw = {"actor": unit(LEAD), "request_id": "s-1"}
        with pytest.raises(Rejected) as err:
            f.order.check("receive", raw, f.now)
        before = f.order.status()
        f.order.reject("receive", raw, str(err.value), t("2026-03-06 09:10"))
        s = f.order.status()
        [r] = s.rejected_actions
        assert (r.action, r.actor, r.request_id, r.at) == (
            "receive",
            unit(LEAD),
            "s-1",
            t("2026-03-06 09:10"),
        )
        assert r.reason == str(err.value)
        assert "no standing" in r.reason
        assert s.rejected_total == 1
        assert s.model_copy(update={"rejected_actions": [], "rejected_total": 0}) == before
        assert "s-1" not in f.order.request_ids

    def test_reject_tolerates_a_payload_that_is_not_an_object(self) -> None:
        """A garbage signal payload is still recorded, without actor or request_id."""
        f = at_awaiting_receipt()
        f.order.reject("receive", "garbage", "receive refused: the payload must be a JSON object", f.now)
        [r] = f.order.status().rejected_actions
        assert (r.actor, r.request_id) == (None, None)


class TestHandlingOrder:
    def test_confidential_reporter_is_hidden_from_units(self) -> None:
        """With confidentiality asked, the unit sees the phone to call, never the name (Articles 8.2, 8.4).

        What units see is a view, not a rule of the order's life: it is the current one for every
        order, lifecycle 1 included.
        """
        f = at_in_handling(confidential=True)
        h = f.order.handling_order(LEAD)
        assert (h.reporter_name, h.reporter_phone, h.confidential) == (None, REPORTER["phone"], True)
        assert REPORTER["name"] not in h.model_dump_json()
        assert "never say who reported" in h.confidentiality_note
        assert h.address == "友谊路与围堤道交口"
        assert h.completion_due == t("2026-03-17 00:00")
        assert h.role == "lead"
        assert h.opinion == "河西区城管委牵头，照明处协办"

    def test_reporter_is_visible_when_not_confidential(self) -> None:
        """Without confidentiality the unit sees the reporter's name and phone."""
        h = at_in_handling().order.handling_order("dept-lighting")
        assert (h.reporter_name, h.reporter_phone) == (REPORTER["name"], REPORTER["phone"])
        assert h.role == "assisting"
        assert h.return_due == t("2026-03-06 18:30")

    @pytest.mark.parametrize(("who", "expected"), [("dept-roads", "not assigned"), ("nobody", "not an org id")])
    def test_an_unassigned_unit_is_refused(self, who: str, expected: str) -> None:
        """Only a unit assigned to the order gets its handling order."""
        with pytest.raises(Rejected, match=expected):
            at_in_handling().order.handling_order(who)


NEW_YEAR_2027 = CalendarYear(
    year=2027,
    holidays={date(2027, 1, d): "New Year's Day" for d in (1, 2, 3)},
)


class TestRecalendar:
    def test_deadline_in_an_unknown_year_is_unconfirmed(self) -> None:
        """Dispatched Wed 2026-12-30: completion lands in 2027 (Monday-Friday assumed), unconfirmed."""
        f = Flow(new_order("2026-12-30 10:00"))
        s = f.order.status()
        c = s.deadlines["completion"]
        assert c.due == t("2027-01-08 00:00")  # 12/31, 1/1, 1/4, 1/5, 1/6, 1/7
        assert c.calendar_confirmed is False
        assert "calendar for 2027 not confirmed" in c.explanation
        assert s.deadlines["receipt"].calendar_confirmed is True
        assert "calendar_unconfirmed" in s.flags

    def test_a_newly_entered_year_recomputes_and_confirms(self) -> None:
        """With New Year 2027 entered, completion moves to 2027-01-09 00:00, confirmed, and is recorded."""
        f = Flow(new_order("2026-12-30 10:00"))
        f.to("2026-12-31 10:00")
        calendar = BusinessCalendar([*package_years(), NEW_YEAR_2027])
        assert f.order.recalendar(calendar, f.now) == ["completion"]
        s = f.order.status()
        c = s.deadlines["completion"]
        assert c.due == t("2027-01-09 00:00")  # 12/31, 1/4 .. 1/8
        assert c.calendar_confirmed is True
        assert c.warn_at == _warn(c.start, c.due)
        assert "not confirmed" not in c.explanation
        assert "calendar_unconfirmed" not in s.flags
        entry = s.timeline[-1]
        assert entry.kind == "deadline_recomputed"
        assert entry.at == t("2026-12-31 10:00")
        assert "2027-01-08T00:00+08:00" in entry.detail
        assert "2027-01-09T00:00+08:00" in entry.detail
        assert entry.detail.index("2027-01-08") < entry.detail.index("2027-01-09")

    def test_a_met_deadline_is_left_alone(self) -> None:
        """A deadline already met keeps its instant when the calendar changes."""
        f = Flow(new_order("2026-12-30 10:00"))
        f.act("receive", "2026-12-30 10:30", CENTER)
        f.act("propose", "2026-12-30 11:00", CENTER, lead_unit=LEAD, opinion="x")
        f.act("review", "2026-12-30 11:30", DEPT_HOTLINE, approved=True)
        f.act("contact_reporter", "2026-12-30 12:00", unit(LEAD), at=iso("2026-12-30 12:00"), method="phone")
        f.act(
            "submit_result",
            "2026-12-31 10:00",
            unit(LEAD),
            result="x",
            reporter_informed_at=iso("2026-12-31 09:00"),
        )
        calendar = BusinessCalendar([*package_years(), NEW_YEAR_2027])
        assert f.order.recalendar(calendar, f.now) == []
        assert f.order.deadlines["completion"].due == t("2027-01-08 00:00")
        assert "deadline_recomputed" not in f.kinds()


#: A rulebook whose heating orders have their own windows (rulebook.md: per-category overrides).
HEATING_RULES = Rulebook(
    id="test-heating-overrides",
    effective_from=date(2021, 4, 2),
    category_overrides={Category.HEATING: WindowOverrides(return_window=timedelta(hours=12), warning_fraction=0.5)},
)


class TestCategoryOverrides:
    def test_return_window_and_its_refusal_follow_the_category(self) -> None:
        """A 12-hour heating return window closes at +12h, and the refusal says 12 hours."""
        f = at_in_handling(category="heating", rulebook=HEATING_RULES)
        lead = next(x for x in f.order.assignments if x.unit == LEAD)
        assert lead.return_due == t("2026-03-06 22:30")
        msg = f.refuse("return_order", "2026-03-06 22:31", unit(LEAD), reason="x", basis="y")
        assert "2026-03-06T22:30+08:00" in msg
        assert "12-hour return window" in msg

    def test_warning_follows_the_category_fraction(self) -> None:
        """A heating warning at 50% of the window fires then and says 50%."""
        f = Flow(new_order("2026-03-06 15:00", category="heating"), rulebook=HEATING_RULES)
        assert f.order.next_timer() == (t("2026-03-06 16:30"), "receipt window warning")
        f.to("2026-03-06 16:30")
        [warning] = [x for x in f.order.outbox if x.kind == "receipt_warning"]
        assert "50% of the window has passed" in warning.text
