"""The order state machine (`domain.order.Order`, lifecycle 2) on a simulated clock.

No Temporal, no database: every test drives one order with plain JSON payloads, as the contract's
senders would, and moves an explicit clock forward; timers fire at the instants `next_timer()`
names, as the workflow fires them. Orders started before lifecycle 2 are held to their own rules
in `test_order_lifecycle1.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest

from activities.store.calendar_data import package_years
from domain.calendar import BusinessCalendar, CalendarYear
from domain.errors import RefusalKind
from domain.models import Outcome, Phase
from domain.order import LIFECYCLE
from domain.rulebook import TIANJIN_2021
from tests.support.orders import (
    ASSISTING,
    CENTER,
    DEPT_HOTLINE,
    HOTLINE,
    LEAD,
    REPORTER,
    Flow,
    iso,
    new_order,
    t,
    unit,
)

OPINION = "河西区城管委牵头，照明处协办"


# -- the order in each phase, on the D0 timeline (Fri 2026-03-06) --------------------------------


def at_awaiting_receipt(**kw: Any) -> Flow:
    return Flow(new_order(**kw))


def at_received(**kw: Any) -> Flow:
    f = at_awaiting_receipt(**kw)
    f.act("receive", "2026-03-06 09:30", f.operator)
    return f


def at_in_review(*, assisting: tuple[str, ...] = ASSISTING, **kw: Any) -> Flow:
    f = at_received(**kw)
    f.act("propose", "2026-03-06 10:00", f.operator, lead_unit=LEAD, assisting_units=list(assisting), opinion=OPINION)
    return f


def at_in_handling(**kw: Any) -> Flow:
    """Dispatched to the units Fri 10:30: the completion deadline is Tue 2026-03-17 00:00."""
    f = at_in_review(**kw)
    f.act("review", "2026-03-06 10:30", f.supervisor, approved=True, comment="同意")
    return f


def handle(f: Flow, **extra: Any) -> None:
    """Contact, every assisting unit contributes, the lead submits (Mon 2026-03-09 10:00)."""
    f.act("contact_reporter", "2026-03-06 11:00", unit(LEAD), at=iso("2026-03-06 10:55"), method="phone")
    for u in ASSISTING:
        f.act("contribute", "2026-03-06 14:00", unit(u), content=f"{u}: 线路已检查")
    f.act(
        "submit_result",
        "2026-03-09 10:00",
        unit(LEAD),
        result="更换了三盏路灯的镇流器",
        reporter_informed_at=iso("2026-03-09 09:30"),
        **extra,
    )


def at_result_review(**kw: Any) -> Flow:
    """The result waits for the platform's review (due Mon 2026-03-09 13:00)."""
    f = at_in_handling(**kw)
    handle(f)
    return f


def at_awaiting_callback(**kw: Any) -> Flow:
    f = at_result_review(**kw)
    f.act("review_result", "2026-03-09 11:00", CENTER, approved=True, comment="结果属实")
    return f


def at_rehandling(**kw: Any) -> Flow:
    """Dissatisfied once: re-handling round 1 opened at Wed 2026-03-11 10:00."""
    f = at_awaiting_callback(**kw)
    f.act("callback", "2026-03-11 10:00", HOTLINE, verdict="dissatisfied", note="还是不亮")
    return f


def rehandle(f: Flow, contact: str, submit: str, review: str, **extra: Any) -> None:
    f.act("contact_reporter", contact, unit(LEAD), at=iso(contact), method="visit")
    f.act("submit_result", submit, unit(LEAD), result="再次维修", reporter_informed_at=iso(submit), **extra)
    f.act("review_result", review, CENTER, approved=True)


def at_rehandled(**kw: Any) -> Flow:
    """The re-handling result (with appeal materials) was accepted: awaiting the round-1 callback."""
    f = at_rehandling(**kw)
    rehandle(f, "2026-03-12 10:00", "2026-03-13 10:00", "2026-03-13 11:00", appeal_materials=["现场照片.jpg"])
    return f


def at_appeal_window(**kw: Any) -> Flow:
    """Dissatisfied after re-handling (Mon 2026-03-16 10:00): the appeal window runs to Fri 03-20 00:00."""
    f = at_rehandled(**kw)
    f.act("callback", "2026-03-16 10:00", HOTLINE, verdict="dissatisfied", note="仍不满意")
    return f


def at_appealing(**kw: Any) -> Flow:
    f = at_appeal_window(**kw)
    f.act("file_appeal", "2026-03-16 11:00", CENTER, reason="已按标准修复", materials=["说明.pdf"])
    return f


BUILDERS: dict[Phase, Callable[..., Flow]] = {
    Phase.AWAITING_RECEIPT: at_awaiting_receipt,
    Phase.RECEIVED: at_received,
    Phase.IN_REVIEW: at_in_review,
    Phase.IN_HANDLING: at_in_handling,
    Phase.RESULT_REVIEW: at_result_review,
    Phase.AWAITING_CALLBACK: at_awaiting_callback,
    Phase.REHANDLING: at_rehandling,
    Phase.APPEAL_WINDOW: at_appeal_window,
    Phase.APPEALING: at_appealing,
}


class TestHappyPath:
    def test_every_phase_from_transfer_to_close(self) -> None:
        """receive, propose, review, handling, result, result review, callback: every phase, then closed."""
        phases = [BUILDERS[p]().order.phase for p in BUILDERS]
        assert phases == list(BUILDERS)
        f = at_awaiting_callback()
        f.act("callback", "2026-03-10 15:00", HOTLINE, verdict="satisfied", note="满意")
        s = f.order.status()
        assert (s.phase, s.outcome, s.lifecycle) == (Phase.CLOSED, Outcome.SATISFIED, LIFECYCLE)
        assert not {"completion_late", "receipt_late", "result_review_late"} & set(s.flags)
        assert s.rulebook == TIANJIN_2021.id

    def test_the_reply_goes_to_the_city_hotline_only_after_the_platforms_review(self) -> None:
        """Art. 6.2: the unit's result goes to its platform; the platform replies (第一时间回复)."""
        f = at_result_review()
        assert f.outbox("reply") == []
        assert f.outbox("result_review") == ["center"]
        assert f.order.deadlines["completion"].paused_at == t("2026-03-09 10:00")
        f.act("review_result", "2026-03-09 11:00", CENTER, approved=True)
        assert f.outbox("reply") == ["hotline"]
        [reply] = [x for x in f.order.outbox if x.kind == "reply"]
        assert reply.payload["result"] == "更换了三盏路灯的镇流器"
        assert f.order.deadlines["completion"].met_at == t("2026-03-09 10:00")
        assert f.order.deadlines["result_review_1"].met_at == t("2026-03-09 11:00")


class TestUnitsClock:
    """Art. 8.4/8.5: the units' limits run from when the unit gets the handling order."""

    def test_no_completion_deadline_before_dispatch(self) -> None:
        """Before dispatch the order has its receipt window and a dispatch reminder, no completion."""
        f = at_in_review()
        assert "completion" not in f.order.deadlines
        assert set(f.order.deadlines) == {"receipt", "dispatch"}

    def test_completion_counts_from_the_dispatch_to_the_unit(self) -> None:
        """Dispatched Fri 10:30: six working days, due at the end of Mon 03-16; the explanation says so."""
        d = at_in_handling().order.deadlines["completion"]
        assert (d.start, d.due) == (t("2026-03-06 10:30"), t("2026-03-17 00:00"))
        assert "dispatched to district-hexi Fri 2026-03-06 10:30" in d.explanation

    def test_extra_urgent_handled_within_its_windows_is_on_time(self) -> None:
        """Received and dispatched within their windows, handled 25 minutes after dispatch: on time."""
        f = Flow(new_order("2026-03-06 09:00", tier="extra_urgent"))
        f.act("receive", "2026-03-06 09:20", CENTER)
        f.act("propose", "2026-03-06 09:25", CENTER, lead_unit=LEAD, opinion=OPINION)
        f.act("review", "2026-03-06 09:30", DEPT_HOTLINE, approved=True)
        assert f.order.deadlines["completion"].due == t("2026-03-06 10:00")
        f.act("contact_reporter", "2026-03-06 09:40", unit(LEAD), at=iso("2026-03-06 09:38"), method="phone")
        f.act(
            "submit_result",
            "2026-03-06 09:55",
            unit(LEAD),
            result="已处理",
            reporter_informed_at=iso("2026-03-06 09:54"),
        )
        f.act("review_result", "2026-03-06 10:10", CENTER, approved=True)
        assert not {"receipt_late", "completion_late"} & set(f.order.flags)

    def test_a_lawful_receipt_across_national_day_is_not_late(self) -> None:
        """very_urgent at 23:00 before the National Day break: received lawfully, completed on time."""
        f = Flow(new_order("2026-09-30 23:00", tier="very_urgent"))
        assert f.order.deadlines["receipt"].due == t("2026-10-09 09:00")
        f.act("receive", "2026-10-09 08:50", CENTER)
        f.act("propose", "2026-10-09 09:10", CENTER, lead_unit=LEAD, opinion=OPINION)
        f.act("review", "2026-10-09 09:30", DEPT_HOTLINE, approved=True)
        # one working day after Fri 10-09: Sat 10-10, a make-up working day
        assert f.order.deadlines["completion"].due == t("2026-10-11 00:00")
        f.act("contact_reporter", "2026-10-09 10:00", unit(LEAD), at=iso("2026-10-09 09:50"), method="phone")
        f.act(
            "submit_result",
            "2026-10-10 15:00",
            unit(LEAD),
            result="已处理",
            reporter_informed_at=iso("2026-10-10 14:00"),
        )
        f.act("review_result", "2026-10-10 15:30", CENTER, approved=True)
        assert not {"receipt_late", "completion_late"} & set(f.order.flags)

    def test_a_new_lead_after_a_return_gets_a_window_of_its_own(self) -> None:
        """The lead returns; the next lead's completion counts from its own dispatch."""
        f = at_in_handling(assisting=())
        f.act("return_order", "2026-03-06 12:00", unit(LEAD), reason="非我单位职责", basis="职责清单第3条")
        assert f.order.deadlines["completion"].closed_at == t("2026-03-06 12:00")
        f.act("propose", "2026-03-06 13:00", CENTER, lead_unit="dept-lighting", opinion="照明处办理")
        f.act("review", "2026-03-09 09:30", DEPT_HOTLINE, approved=True)
        d = f.order.deadlines["completion"]
        assert (d.start, d.due) == (t("2026-03-09 09:30"), t("2026-03-18 00:00"))


class TestDispatchReminder:
    """The platform's own step (our reading of 第一时间派遣): a reminder, then an escalation; not lateness."""

    def test_reminder_then_escalation_then_reminders(self) -> None:
        """Received Fri 09:30: reminder to the platform 12:30, escalation to dept-hotline 15:30, then daily."""
        f = at_received()
        d = f.order.deadlines["dispatch"]
        assert (d.warn_at, d.due) == (t("2026-03-06 12:30"), t("2026-03-06 15:30"))
        assert f.order.next_timer() == (t("2026-03-06 12:30"), "dispatch reminder")
        f.to("2026-03-06 12:30")
        assert f.outbox("dispatch_reminder") == ["center"]
        f.to("2026-03-06 15:30")
        assert f.outbox("dispatch_escalation") == ["center", "dept-hotline"]
        assert f.order.next_timer() == (t("2026-03-09 09:00"), "dispatch escalation reminder")
        f.to("2026-03-10 09:00")
        assert f.outbox("dispatch_reminder") == ["center"] + ["center", "dept-hotline"] * 2
        assert not any(flag.startswith("dispatch") for flag in f.order.flags)

    def test_dispatch_meets_it(self) -> None:
        """The review's approval dispatches the order: no reminder follows."""
        f = at_in_handling()
        assert f.order.deadlines["dispatch"].met_at == t("2026-03-06 10:30")
        f.to("2026-03-06 16:00")
        assert f.outbox("dispatch_reminder") == []


class TestResultReview:
    def test_sent_back_with_a_comment_goes_back_to_the_lead(self) -> None:
        """Not approved: the lead is told the platform's words and handles on; nothing reaches the hotline."""
        f = at_result_review()
        f.act("review_result", "2026-03-09 11:00", CENTER, approved=False, comment="缺少现场照片")
        assert f.order.phase is Phase.IN_HANDLING
        assert f.texts("result_sent_back") == [
            "your result was sent back by the platform: 缺少现场照片; complete by Tue 2026-03-17 00:00"
        ]
        assert f.outbox("result_sent_back") == [LEAD]
        assert f.outbox("reply") == []
        assert f.order.handling_order(LEAD).latest_result.review_comment == "缺少现场照片"  # type: ignore[union-attr]
        f.act(
            "submit_result",
            "2026-03-10 10:00",
            unit(LEAD),
            result="补充照片",
            reporter_informed_at=iso("2026-03-10 09:00"),
        )
        f.act("review_result", "2026-03-10 11:00", CENTER, approved=True)
        assert f.order.phase is Phase.AWAITING_CALLBACK
        assert f.outbox("reply") == ["hotline"]

    def test_sending_back_needs_a_comment(self) -> None:
        """The lead must know what to redo: an empty comment is refused as an invalid payload."""
        err = at_result_review().refusal("review_result", "2026-03-09 11:00", CENTER, approved=False)
        assert err.kind is RefusalKind.INVALID_PAYLOAD
        assert "comment is required" in str(err)

    def test_a_submission_in_time_approved_late_is_on_time(self) -> None:
        """Lateness is judged at the accepted submission, not at the platform's review."""
        f = at_in_handling(assisting=())
        f.act("contact_reporter", "2026-03-16 10:00", unit(LEAD), at=iso("2026-03-16 09:00"), method="phone")
        f.act(
            "submit_result",
            "2026-03-16 20:00",
            unit(LEAD),
            result="已修复",
            reporter_informed_at=iso("2026-03-16 19:00"),
        )
        f.to("2026-03-17 10:00")  # the completion deadline passes while the result waits for review
        assert "completion_late" not in f.order.flags
        f.act("review_result", "2026-03-17 10:00", CENTER, approved=True)
        assert "completion_late" not in f.order.flags
        # submitted at 20:00 (non-working period): the review window ran to Tue 12:00
        assert f.order.deadlines["result_review_1"].due == t("2026-03-17 12:00")
        assert "result_review_late" not in f.order.flags

    def test_sent_back_after_the_deadline_is_late_at_once(self) -> None:
        """The unit's clock runs on: sent back after the deadline, the order is overdue then and there."""
        f = at_in_handling(assisting=())
        f.act("contact_reporter", "2026-03-16 10:00", unit(LEAD), at=iso("2026-03-16 09:00"), method="phone")
        f.act(
            "submit_result",
            "2026-03-16 15:00",
            unit(LEAD),
            result="已修复",
            reporter_informed_at=iso("2026-03-16 14:00"),
        )
        f.act("review_result", "2026-03-17 09:30", CENTER, approved=False, comment="未修复")
        assert "completion_late" in f.order.flags
        assert f.outbox("completion_overdue") == [LEAD, "center", "dept-hotline"]
        f.act(
            "submit_result",
            "2026-03-17 15:00",
            unit(LEAD),
            result="确已修复",
            reporter_informed_at=iso("2026-03-17 14:00"),
        )
        f.act("review_result", "2026-03-17 15:30", CENTER, approved=True)
        assert f.order.deadlines["completion"].met_at == t("2026-03-17 15:00")
        assert "completion_late" in f.order.flags

    def test_the_review_window_warns_then_escalates(self) -> None:
        """Submitted Mon 10:00 (working period): the review is due 13:00, warned at 12:24, then escalated."""
        f = at_result_review()
        d = f.order.deadlines["result_review_1"]
        assert (d.due, d.warn_at) == (t("2026-03-09 13:00"), t("2026-03-09 12:24"))
        f.to("2026-03-09 13:00")
        assert f.outbox("result_review_warning") == ["center"]
        assert f.outbox("result_review_overdue") == ["center", "dept-hotline"]
        assert "result_review_late" in f.order.flags

    def test_a_review_of_nothing_is_refused(self) -> None:
        """No result waits: review_result is refused naming the phase."""
        err = at_in_handling().refusal("review_result", "2026-03-06 11:00", CENTER, approved=True)
        assert err.kind is RefusalKind.WRONG_PHASE
        assert "no result waits for review (the order is in_handling)" in str(err)


class TestExtension:
    def _ask(self, f: Flow, when: str = "2026-03-16 10:00", due: str = "2026-03-20 00:00") -> None:
        f.act(
            "request_extension",
            when,
            unit(LEAD),
            reason="需更换电缆",
            requested_due=iso(due),
            reporter_notified_at=iso("2026-03-16 09:00"),
            written_reply="书面回复：需更换电缆，预计周五完成",
        )

    def test_the_request_goes_to_the_platform_not_the_hotline(self) -> None:
        """Art. 8.6: the unit replies in writing to the platform; the platform applies."""
        f = at_in_handling()
        self._ask(f)
        assert f.outbox("extension_request") == ["center"]
        assert f.outbox("extension_application") == []
        assert f.order.extensions[-1].waits_at == "platform"
        err = f.refusal("extension_decision", None, HOTLINE, approved=True, approved_due=iso("2026-03-20 00:00"))
        assert err.kind is RefusalKind.PRECONDITION

    def test_forwarded_then_approved_after_the_old_deadline_lifts_the_overdue_mark(self) -> None:
        """Asked on time, approved late: the approved instant stands as if in force all along."""
        f = at_in_handling()
        self._ask(f)
        f.act("forward_extension", "2026-03-16 11:00", CENTER, forward=True, note="情况属实")
        assert f.outbox("extension_application") == ["hotline"]
        f.to("2026-03-17 12:00")
        assert "completion_late" in f.order.flags
        f.act("extension_decision", "2026-03-17 12:00", HOTLINE, approved=True, approved_due=iso("2026-03-20 00:00"))
        d = f.order.deadlines["completion"]
        assert (d.due, d.overdue_since, d.overdue_lifted_at) == (t("2026-03-20 00:00"), None, t("2026-03-17 12:00"))
        assert "completion_late" not in f.order.flags
        # its warning instant (80% of the extended window) has passed and was warned: next is the end
        assert d.warned_at is not None
        assert f.order.next_timer() == (t("2026-03-20 00:00"), "completion deadline")
        assert "lifted" in f.order.timeline[-1].detail
        for u in ASSISTING:
            f.act("contribute", "2026-03-18 10:00", unit(u), content="已配合")
        f.act("contact_reporter", "2026-03-18 10:00", unit(LEAD), at=iso("2026-03-18 09:00"), method="phone")
        f.act(
            "submit_result",
            "2026-03-19 15:00",
            unit(LEAD),
            result="已更换电缆",
            reporter_informed_at=iso("2026-03-19 14:00"),
        )
        f.act("review_result", "2026-03-19 15:30", CENTER, approved=True)
        assert "completion_late" not in f.order.flags

    def test_approved_in_time_re_arms_warning_and_end(self) -> None:
        """The warning and the end of the approved instant fire at their own instants."""
        f = at_in_handling()
        self._ask(f)
        f.act("forward_extension", "2026-03-16 11:00", CENTER, forward=True)
        f.act("extension_decision", "2026-03-16 12:00", HOTLINE, approved=True, approved_due=iso("2026-03-24 00:00"))
        f.to("2026-03-24 00:00")
        assert f.order.deadlines["completion"].overdue_since == t("2026-03-24 00:00")
        assert f.outbox("completion_warning")[-3:] == [LEAD, "center", "dept-hotline"]

    def test_declined_by_the_platform_with_its_reason(self) -> None:
        """The platform declines: the unit hears why; the deadline and its lateness stand."""
        f = at_in_handling()
        self._ask(f)
        f.act("forward_extension", "2026-03-16 11:00", CENTER, forward=False, note="理由不充分")
        assert f.order.extensions[-1].decision == "declined"
        assert "理由不充分" in f.texts("extension_decision")[-1]
        f.to("2026-03-17 00:00")
        assert "completion_late" in f.order.flags

    def test_refused_lateness_stands_from_the_old_deadline(self) -> None:
        """Refused after the old deadline: overdue since the old instant, flag kept."""
        f = at_in_handling()
        self._ask(f)
        f.act("forward_extension", "2026-03-16 11:00", CENTER, forward=True)
        f.act("extension_decision", "2026-03-17 09:00", HOTLINE, approved=False, note="不同意")
        assert f.order.deadlines["completion"].overdue_since == t("2026-03-17 00:00")
        assert "completion_late" in f.order.flags

    def test_a_forward_with_nothing_pending_is_refused(self) -> None:
        """forward_extension with no request at the platform: refused, nothing changes."""
        err = at_in_handling().refusal("forward_extension", "2026-03-06 11:00", CENTER, forward=True)
        assert (err.kind, "no extension request waits at the platform" in str(err)) == (RefusalKind.PRECONDITION, True)

    def test_a_return_ends_the_pending_request(self) -> None:
        """The lead returns with a request pending: it ends; the next lead's own request is taken."""
        f = at_in_handling(assisting=())
        f.act(
            "request_extension",
            "2026-03-06 12:00",
            unit(LEAD),
            reason="人手不足",
            requested_due=iso("2026-03-20 00:00"),
            reporter_notified_at=iso("2026-03-06 11:50"),
            written_reply="书面回复",
        )
        f.act("return_order", "2026-03-06 13:00", unit(LEAD), reason="非我单位职责", basis="职责清单")
        assert f.order.extensions[-1].decision == "ended"
        assert "extension_pending" not in f.order.flags
        f.act("propose", "2026-03-06 14:00", CENTER, lead_unit="dept-lighting", opinion="照明处办理")
        f.act("review", "2026-03-06 14:30", DEPT_HOTLINE, approved=True)
        f.act(
            "request_extension",
            "2026-03-09 10:00",
            unit("dept-lighting"),
            reason="需更换电缆",
            requested_due=iso("2026-03-25 00:00"),
            reporter_notified_at=iso("2026-03-09 09:00"),
            written_reply="书面回复",
        )
        assert f.order.extensions[-1].by.org == "dept-lighting"


class TestRehandlingAndAppeal:
    def test_a_dissatisfied_verdict_opens_rehandling_once_with_every_unit(self) -> None:
        """再次办理: one round by default; the verdict's note reaches every unit; assisting units stay."""
        f = at_rehandling()
        assert f.order.phase is Phase.REHANDLING
        assert TIANJIN_2021.rehandling_rounds == 1
        assert f.outbox("rehandling") == [LEAD, *ASSISTING, "center"]
        assert all("还是不亮" in text for text in f.texts("rehandling"))
        assert f.order.units() == [LEAD, *ASSISTING]
        assert f.order.handling_order("dept-lighting").latest_verdict.note == "还是不亮"  # type: ignore[union-attr]
        f.act("contact_reporter", "2026-03-11 11:00", unit("dept-lighting"), at=iso("2026-03-11 10:30"), method="phone")
        f.act("contribute", "2026-03-11 12:00", unit("dept-lighting"), content="更换了控制箱")
        assert [c.round for c in f.order.handling_order(LEAD).contributions] == [0, 0, 1]

    def test_the_whole_path_to_an_upheld_appeal(self) -> None:
        """result, sent back, result, approved, dissatisfied, re-handling, approved, dissatisfied, appeal, upheld."""
        f = at_in_handling()
        f.act("contact_reporter", "2026-03-06 11:00", unit(LEAD), at=iso("2026-03-06 10:55"), method="phone")
        for u in ASSISTING:
            f.act("contribute", "2026-03-06 14:00", unit(u), content="已配合")
        f.act(
            "submit_result", "2026-03-09 10:00", unit(LEAD), result="已修", reporter_informed_at=iso("2026-03-09 09:30")
        )
        f.act("review_result", "2026-03-09 11:00", CENTER, approved=False, comment="请附照片")
        f.act(
            "submit_result",
            "2026-03-09 15:00",
            unit(LEAD),
            result="已修，附照片",
            reporter_informed_at=iso("2026-03-09 14:30"),
        )
        f.act("review_result", "2026-03-09 15:30", CENTER, approved=True)
        f.act("callback", "2026-03-10 10:00", HOTLINE, verdict="dissatisfied", note="还是不亮")
        f.act("contact_reporter", "2026-03-10 11:00", unit(LEAD), at=iso("2026-03-10 10:30"), method="visit")
        f.act("contribute", "2026-03-10 12:00", unit("dept-lighting"), content="更换控制箱")
        f.act(
            "submit_result",
            "2026-03-11 10:00",
            unit(LEAD),
            result="再次维修",
            reporter_informed_at=iso("2026-03-11 09:30"),
            appeal_materials=["现场照片.jpg"],
        )
        f.act("review_result", "2026-03-11 11:00", CENTER, approved=True)
        f.act("callback", "2026-03-12 10:00", HOTLINE, verdict="dissatisfied", note="仍不满意")
        assert f.order.phase is Phase.APPEAL_WINDOW
        f.act("file_appeal", "2026-03-12 11:00", CENTER, reason="已按标准修复", materials=["说明.pdf"])
        [appeal] = [x for x in f.order.outbox if x.kind == "appeal"]
        assert appeal.payload["materials"] == ["说明.pdf", "现场照片.jpg"]
        f.act("appeal_decision", "2026-03-13 10:00", HOTLINE, upheld=True)
        assert f.order.outcome is Outcome.APPEAL_UPHELD

    def test_an_appeal_may_be_filed_while_the_rehandling_callback_is_awaited(self) -> None:
        """Art. 7.2: re-handling result and appeal materials together; the platform appeals at once."""
        f = at_rehandled()
        f.act("file_appeal", "2026-03-13 12:00", CENTER, reason="已按标准修复")
        assert f.order.phase is Phase.APPEALING
        f.act("callback", "2026-03-16 10:00", HOTLINE, verdict="dissatisfied", note="仍不满意")
        assert f.order.phase is Phase.APPEALING
        f.act("appeal_decision", "2026-03-18 10:00", HOTLINE, upheld=False)
        assert f.order.outcome is Outcome.APPEAL_REJECTED

    def test_a_satisfied_callback_makes_the_pending_appeal_moot(self) -> None:
        """Appeal filed, then the reporter is satisfied: the order closes satisfied."""
        f = at_rehandled()
        f.act("file_appeal", "2026-03-13 12:00", CENTER, reason="已按标准修复")
        f.act("callback", "2026-03-16 10:00", HOTLINE, verdict="satisfied")
        assert (f.order.outcome, f.kinds()[-2]) == (Outcome.SATISFIED, "appeal_moot")

    def test_without_an_appeal_the_window_closes_dissatisfied(self) -> None:
        """Three working days after the last verdict (Mon 10:00): closes dissatisfied at Fri 00:00."""
        f = at_appeal_window()
        d = f.order.deadlines["appeal_window"]
        assert d.due == t("2026-03-20 00:00")
        f.to("2026-03-20 00:00")
        assert (f.order.outcome, f.order.closed_at) == (Outcome.DISSATISFIED, t("2026-03-20 00:00"))
        err = f.refusal("file_appeal", "2026-03-20 09:00", CENTER, reason="迟到的申诉")
        assert err.kind is RefusalKind.CLOSED
        assert "closed at 2026-03-20T00:00+08:00 (dissatisfied)" in str(err)

    def test_an_unanswered_appeal_is_reminded_then_closes(self) -> None:
        """No decision: a reminder to the supervising department at 80%, appeal_unanswered at 30 days."""
        f = at_appealing()
        d = f.order.deadlines["appeal_wait"]
        assert d.due == t("2026-03-16 11:00") + timedelta(days=30)
        f.to(d.due)
        assert f.outbox("appeal_wait_warning") == ["dept-hotline", "center"]
        assert f.order.outcome is Outcome.APPEAL_UNANSWERED
        assert f.outbox("appeal_unanswered") == ["dept-hotline", "center"]

    @pytest.mark.parametrize("phase", [Phase.REHANDLING, Phase.IN_HANDLING, Phase.RESULT_REVIEW])
    def test_an_appeal_before_a_rehandling_result_is_accepted_is_refused(self, phase: Phase) -> None:
        """file_appeal needs an accepted re-handling result: refused as wrong_phase, nothing changes."""
        err = BUILDERS[phase]().refusal("file_appeal", None, CENTER, reason="申诉")
        assert err.kind is RefusalKind.WRONG_PHASE

    def test_the_first_callback_cannot_be_appealed_before_rehandling(self) -> None:
        """Awaiting the first callback (round 0): no appeal yet."""
        err = at_awaiting_callback().refusal("file_appeal", None, CENTER, reason="申诉")
        assert err.kind is RefusalKind.WRONG_PHASE


class TestHonestInstants:
    def test_a_contact_in_2019_is_refused_naming_both_bounds(self) -> None:
        """A reported instant lies between the unit's dispatch and now plus the clock skew."""
        f = at_in_handling()
        err = f.refusal("contact_reporter", "2026-03-06 11:00", unit(LEAD), at=iso("2019-05-01 10:00"), method="phone")
        assert err.kind is RefusalKind.INVALID_INSTANT
        assert "between 2026-03-06T10:25+08:00 (the order was dispatched to district-hexi at 2026-03-06T10:30" in str(
            err
        )
        assert "and 2026-03-06T11:05+08:00 (now + 5m clock skew)" in str(err)

    def test_a_contact_before_dispatch_is_refused(self) -> None:
        """Done-when of issue 11: a contact dated before the dispatch is refused (beyond the clock skew)."""
        f = at_in_handling()
        f.refuse("contact_reporter", "2026-03-06 11:00", unit(LEAD), at=iso("2026-03-06 10:24"), method="phone")
        # a unit's clock a little behind the platform's: within the skew it counts
        f.act("contact_reporter", "2026-03-06 11:00", unit(LEAD), at=iso("2026-03-06 10:26"), method="phone")

    def test_a_rehandling_contact_before_the_round_is_refused(self) -> None:
        """In re-handling the bound is the round's start (the dissatisfied verdict)."""
        f = at_rehandling()
        msg = f.refuse("contact_reporter", "2026-03-11 11:00", unit(LEAD), at=iso("2026-03-11 09:00"), method="phone")
        assert "re-handling round 1 began" in msg

    @pytest.mark.parametrize("field", ["reporter_informed_at"])
    def test_the_result_and_its_instants(self, field: str) -> None:
        """reporter_informed_at in the future is refused too."""
        f = at_in_handling(assisting=())
        f.act("contact_reporter", "2026-03-06 11:00", unit(LEAD), at=iso("2026-03-06 10:55"), method="phone")
        err = f.refusal("submit_result", "2026-03-06 12:00", unit(LEAD), result="x", **{field: iso("2026-03-06 13:00")})
        assert err.kind is RefusalKind.INVALID_INSTANT


class TestHandler:
    def test_the_first_action_names_the_handler(self) -> None:
        """专人办理 (Art. 8.4): the person of the unit's first action is its handler."""
        f = at_in_handling()
        f.act("contact_reporter", "2026-03-06 11:00", unit(LEAD, "刘科"), at=iso("2026-03-06 10:55"), method="phone")
        assert f.order.assignments[0].handler.person == "刘科"  # type: ignore[union-attr]
        f.act("contact_reporter", "2026-03-06 12:00", unit(LEAD, "周科"), at=iso("2026-03-06 11:55"), method="phone")
        assert f.order.assignments[0].handler.person == "刘科"  # type: ignore[union-attr]

    def test_a_handler_named_explicitly_with_a_phone(self) -> None:
        """Any unit action may name (or rename) the handler; everyone on the order sees it."""
        f = at_in_handling()
        f.act(
            "contribute",
            "2026-03-06 11:00",
            unit("dept-lighting"),
            content="已检查",
            handler={"person": "陈工", "phone": "13900000001"},
        )
        views = {v.unit: v.handler for v in f.order.handling_order(LEAD).units}
        assert views["dept-lighting"].person == "陈工"  # type: ignore[union-attr]
        assert f.order.handling_order("dept-lighting").handler.phone == "13900000001"  # type: ignore[union-attr]
        assert "handler_named" in f.kinds()


class TestWhatUnitsSee:
    def test_a_confidential_reporter_can_be_called_but_not_named(self) -> None:
        """The lead sees the phone, marked confidential, never the name (Articles 8.2, 8.4)."""
        f = at_in_handling(confidential=True)
        h = f.order.handling_order(LEAD)
        assert (h.reporter_name, h.reporter_phone, h.confidential) == (None, REPORTER["phone"], True)
        assert REPORTER["name"] not in h.model_dump_json()
        assert "never say who reported" in h.confidentiality_note

    def test_a_unit_that_returned_the_order_loses_the_phone(self) -> None:
        """Only a unit assigned now may call: a returned unit's view has no phone."""
        f = at_in_handling(confidential=True)
        f.act("return_order", "2026-03-06 12:00", unit("dept-lighting"), reason="不涉及", basis="职责清单")
        assert f.order.handling_order("dept-lighting").reporter_phone is None

    def test_the_lead_sees_every_contribution_in_full_and_assisting_units_see_the_lead(self) -> None:
        """Article 9: co-handling needs the words of the contributions and who leads."""
        f = at_in_handling()
        f.act("contribute", "2026-03-06 14:00", unit("dept-lighting"), content="线路老化，已更换一段电缆")
        lead_view = f.order.handling_order(LEAD)
        assert [(c.unit, c.content) for c in lead_view.contributions] == [("dept-lighting", "线路老化，已更换一段电缆")]
        other = f.order.handling_order("unit-lighting-center")
        assert (other.lead_unit, other.contributions) == (LEAD, [])
        assert [u.unit for u in other.units] == [LEAD, *ASSISTING]
        assert set(other.deadlines) == {"return:unit-lighting-center", "completion"}
        assert f.texts("contribution") == ["dept-lighting contributed: 线路老化，已更换一段电缆"]

    def test_notifications_never_carry_a_confidential_reporters_name_or_phone(self) -> None:
        """Whatever a unit writes, what goes out is scrubbed of the reporter's name and phone."""
        f = at_in_handling(confidential=True)
        f.act("contribute", "2026-03-06 14:00", unit("dept-lighting"), content="已致电张三 138-0000-0000 确认")
        handle_rest = f.order.outbox
        assert all(REPORTER["name"] not in x.text and "0000-0000" not in x.text for x in handle_rest)
        assert "已致电[reporter] [reporter] 确认" in f.texts("contribution")[-1]


class TestNeverStuck:
    @pytest.mark.parametrize("phase", list(BUILDERS))
    def test_every_phase_but_closed_has_an_armed_timer(self, phase: Phase) -> None:
        """Whatever waits, something is armed: a deadline, its warning, its end or a reminder."""
        f = BUILDERS[phase]()
        assert f.order.next_timer() is not None
        f.to("2026-06-30 00:00")  # months later, nobody acted
        assert f.order.phase is Phase.CLOSED or f.order.next_timer() is not None


class TestContinueAsNew:
    @pytest.mark.parametrize("phase", list(BUILDERS))
    def test_a_snapshot_restores_the_same_order(self, phase: Phase) -> None:
        """What a new run gets is the order: same status, same next timer, and it goes on the same way."""
        f = BUILDERS[phase]()
        o = f.order
        written = max(len(o.outbox) - 1, 0)
        snapshot = o.snapshot(entries_written=len(o.timeline), outbox_written=written)
        again = type(o).restore(type(snapshot).model_validate_json(snapshot.model_dump_json()), o.calendar)
        assert again.status() == o.status()
        assert again.next_timer() == o.next_timer()
        assert again.outbox == o.outbox[written:]  # what is not written yet goes along, with its seq
        later = f.now + timedelta(days=40)
        o.fire_due(later)
        again.fire_due(later)
        assert again.status() == o.status()
        assert [x.seq for x in again.outbox] == [x.seq for x in o.outbox[written:]]


class TestRejectedSignals:
    def test_only_the_latest_are_kept_and_all_are_counted(self) -> None:
        """A flood of bad signals never makes the order grow: 20 kept, each cut short, all counted."""
        f = at_in_handling()
        for i in range(500):
            f.order.reject("return_order", {"actor": {"org": "x" * 10_000}, "request_id": f"r{i}"}, "y" * 5000, f.now)
        s = f.order.status()
        assert (s.rejected_total, len(s.rejected_actions)) == (500, 20)
        assert s.rejected_actions[-1].request_id == "r499"
        assert len(s.model_dump_json()) < 60_000


class TestRecalendar:
    def test_an_unconfirmed_dispatch_window_is_recomputed_when_the_year_is_entered(self) -> None:
        """Received Thu 2026-12-31 16:30: its dispatch windows run into 2027; entering 2027 recomputes them."""
        f = Flow(new_order("2026-12-31 15:00"))
        f.act("receive", "2026-12-31 16:30", CENTER)
        d = f.order.deadlines["dispatch"]
        assert d.calendar_confirmed is False
        # Monday-Friday assumed: 2027-01-01 (Fri) is a working day
        assert d.warn_at == t("2027-01-01 12:00")
        year = CalendarYear(year=2027, holidays={date(2027, 1, day): "元旦" for day in (1, 2, 3)})
        assert f.order.recalendar(BusinessCalendar([*package_years(), year]), f.now) == ["dispatch"]
        d = f.order.deadlines["dispatch"]
        assert (d.warn_at, d.due, d.calendar_confirmed) == (t("2027-01-04 12:00"), t("2027-01-04 15:00"), True)
        assert "calendar_unconfirmed" not in f.order.flags


class TestUnitViewsNeverNameTheReporter:
    def test_the_verdicts_note_and_contributions_are_scrubbed_of_the_name(self) -> None:
        """Units read the reporter's words and each other's, never a confidential reporter's name."""
        f = at_in_handling(confidential=True)
        f.act("contribute", "2026-03-06 10:45", unit("dept-lighting"), content=f"{REPORTER['name']}家门口已修")
        handle(f)
        f.act("review_result", "2026-03-09 11:00", CENTER, approved=True)
        f.act("callback", "2026-03-10 10:00", HOTLINE, verdict="dissatisfied", note=f"{REPORTER['name']}说还是不亮")
        view = f.order.handling_order(LEAD)
        assert REPORTER["name"] not in view.model_dump_json()
        assert view.latest_verdict is not None
        assert view.latest_verdict.note == "[reporter]说还是不亮"


class TestExtensionAndReview:
    def test_a_result_sent_back_leaves_the_pending_extension_pending(self) -> None:
        """Only an accepted result makes a pending application moot; sent back, the unit's request stands."""
        f = at_in_handling(assisting=())
        f.act("contact_reporter", "2026-03-06 11:00", unit(LEAD), at=iso("2026-03-06 10:55"), method="phone")
        f.act(
            "request_extension",
            "2026-03-12 10:00",
            unit(LEAD),
            reason="需更换电缆",
            requested_due=iso("2026-03-20 00:00"),
            reporter_notified_at=iso("2026-03-12 09:00"),
            written_reply="书面回复",
        )
        f.act(
            "submit_result",
            "2026-03-12 11:00",
            unit(LEAD),
            result="临时修复",
            reporter_informed_at=iso("2026-03-12 10:30"),
        )
        assert f.order.extensions[-1].decision is None
        f.act("review_result", "2026-03-12 12:00", CENTER, approved=False, comment="临时修复不算")
        assert (f.order.extensions[-1].decision, "extension_pending" in f.order.flags) == (None, True)
        f.act("forward_extension", "2026-03-12 13:00", CENTER, forward=True)
        f.act(
            "submit_result",
            "2026-03-13 11:00",
            unit(LEAD),
            result="已更换",
            reporter_informed_at=iso("2026-03-13 10:30"),
        )
        f.act("review_result", "2026-03-13 12:00", CENTER, approved=True)
        assert f.order.extensions[-1].decision == "moot"
