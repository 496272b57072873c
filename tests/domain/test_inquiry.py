"""The doubtful order (`domain.inquiry.Inquiry`, Article 7.3) on a simulated clock.

No Temporal, no database: payloads are plain JSON, as the city hotline and the units send them, and
the clock moves to the instants `next_timer()` names, as the workflow's timers fire them.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from activities.store.calendar_data import package_calendar
from domain.errors import InvalidOrder, Rejected
from domain.inquiry import REPLY_LATE, Inquiry, InquiryPhase, NewInquiry
from domain.rulebook import TIANJIN_2021

CST = timezone(timedelta(hours=8))
CAL = package_calendar()
RB = TIANJIN_2021


def t(s: str) -> datetime:
    """`2026-03-06 10:00` -> that instant in Asia/Shanghai (+08:00)."""
    return datetime.fromisoformat(f"{s}+08:00")


def actor(org: str, role: str, person: str = "张科") -> dict[str, str]:
    return {"org": org, "person": person, "role": role}


CENTER = actor("center", "operator", "王工")
LIGHTING = actor("dept-lighting", "handler")
ROADS = actor("dept-roads", "handler")


def new(at: str = "2026-03-06 10:00", **changes: Any) -> NewInquiry:
    raw: dict[str, Any] = {
        "inquiry_no": "Q2026030600001",
        "asked_at": t(at).isoformat(),
        "unit": "dept-lighting",
        "order_no": "TJ2026030600123",
        "question": "该路段路灯是否属于市管照明设施？",
    }
    raw.update(changes)
    return NewInquiry.model_validate(raw)


def ask(asked_at: str = "2026-03-06 10:00", now: str | None = None, **changes: Any) -> Inquiry:
    return Inquiry(new(asked_at, **changes), RB, CAL, t(now or asked_at))


def run_until(q: Inquiry, until: datetime) -> None:
    """Fire every timer up to ``until``, at the instants the workflow would."""
    while (nxt := q.next_timer()) is not None and nxt[0] <= until:
        q.fire_due(nxt[0])


def kinds(q: Inquiry) -> list[str]:
    return [e.kind for e in q.timeline]


class TestNewInquiry:
    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"inquiry_no": "bad no!"}, "inquiry_no"),
            ({"unit": "hotline"}, "unit"),
            ({"unit": "center"}, "unit"),
            ({"unit": "nobody"}, "unit"),
            ({"order_no": ""}, "order_no"),
            ({"question": ""}, "question"),
            ({"question": "x" * 5001}, "question"),
            ({"asked_at": "2026-03-06T10:00:00"}, "asked_at"),
        ],
    )
    def test_invalid_fields_are_named(self, changes: dict[str, Any], field: str) -> None:
        """A NewInquiry that breaks the contract is refused naming the field."""
        with pytest.raises(ValidationError) as err:
            new(**changes)
        assert {e["loc"][0] for e in err.value.errors()} == {field}

    def test_order_no_is_optional_and_utilities_may_be_asked(self) -> None:
        """An inquiry need not concern an order; the Public Utilities Bureau can be asked."""
        n = new(order_no=None, unit="utilities")
        assert n.order_no is None
        assert n.outbox_order_no == "inquiry-Q2026030600001"
        assert n.workflow_id == "inquiry-Q2026030600001"

    def test_asked_in_the_future_is_refused(self) -> None:
        """More than five minutes ahead of now is refused, naming asked_at."""
        n = new("2026-03-06 10:06")
        with pytest.raises(InvalidOrder, match=r"^asked_at: "):
            n.check_arrival(t("2026-03-06 10:00"))
        new("2026-03-06 10:05").check_arrival(t("2026-03-06 10:00"))


class TestReplyDeadline:
    @pytest.mark.parametrize(
        ("asked_at", "due", "why"),
        [
            ("2026-03-04 10:00", "2026-03-06 00:00", "Thu 2026-03-05"),
            ("2026-03-06 10:00", "2026-03-10 00:00", "Mon 2026-03-09"),  # Friday: the weekend is skipped
            ("2026-03-07 20:00", "2026-03-10 00:00", "Mon 2026-03-09"),  # asked on a Saturday
            ("2026-09-30 10:00", "2026-10-09 00:00", "7-day National Day break"),
            ("2026-09-29 10:00", "2026-10-01 00:00", "Wed 2026-09-30"),
        ],
    )
    def test_one_working_day_counted_like_a_completion_deadline(self, asked_at: str, due: str, why: str) -> None:
        """The day asked is not counted; the deadline is the end of the next working day."""
        q = ask(asked_at)
        assert q.deadline.due == t(due)
        assert why in q.deadline.explanation
        assert q.deadline.calendar_confirmed
        assert q.next_timer() is not None

    def test_warning_at_the_rulebook_fraction_then_overdue_at_the_end(self) -> None:
        """80 % of the window: a warning to the unit and dept-hotline; at the end, the escalation."""
        q = ask("2026-03-06 10:00")
        start, due = t("2026-03-06 10:00"), t("2026-03-10 00:00")
        warn_at = start + (due - start) * 0.8
        assert q.deadline.warn_at == warn_at
        assert q.next_timer() == (warn_at, "reply warning")
        assert not q.fire_due(warn_at - timedelta(seconds=1))
        assert q.fire_due(warn_at)
        assert q.deadline.warned_at == warn_at
        assert q.next_timer() == (due, "reply deadline")
        assert q.fire_due(due)
        assert q.deadline.overdue_since == due
        assert REPLY_LATE in q.flags
        assert q.next_timer() is None
        sent = [(o.kind, o.recipient) for o in q.outbox if o.channel == "notification"]
        assert sent == [
            ("doubtful_inquiry", "dept-lighting"),
            ("reply_warning", "dept-lighting"),
            ("reply_warning", "dept-hotline"),
            ("reply_overdue", "dept-lighting"),
            ("reply_overdue", "dept-hotline"),
        ]
        assert kinds(q) == ["asked", "reply_warning", "reply_overdue"]

    def test_asked_long_ago_is_marked_overdue_at_once(self) -> None:
        """An inquiry that arrives after its window: warned and overdue at start."""
        q = ask("2026-03-06 10:00", now="2026-03-12 09:00")
        assert q.deadline.overdue_since == t("2026-03-10 00:00")
        assert REPLY_LATE in q.flags
        assert "OVERDUE" in q.waiting_for()


class TestAnswer:
    def test_an_answer_in_time_goes_to_the_city_hotline(self) -> None:
        """The asked unit answers; the inquiry is answered and the hotline outbox gets it."""
        q = ask()
        assert q.act("answer", {"actor": LIGHTING, "answer": "属于市管设施，已安排维修"}, t("2026-03-09 15:00"))
        assert q.phase is InquiryPhase.ANSWERED
        assert q.deadline.met_at == t("2026-03-09 15:00")
        assert q.flags == []
        assert q.next_timer() is None
        out = q.outbox[-1]
        assert (out.channel, out.recipient, out.kind) == ("hotline", "hotline", "doubtful_answer")
        assert out.payload["inquiry_no"] == "Q2026030600001"
        assert out.payload["order_no"] == "TJ2026030600123"
        assert out.payload["unit"] == "dept-lighting"
        assert out.payload["answer"] == "属于市管设施，已安排维修"
        assert out.payload["late"] is False
        s = q.status()
        assert s.answer == "属于市管设施，已安排维修"
        assert s.answered_by is not None
        assert s.answered_by.person == "张科"

    def test_a_late_answer_is_flagged_and_never_forgiven(self) -> None:
        """Answered after the deadline (no timer fired yet): overdue recorded, reply_late stays."""
        q = ask()
        q.act("answer", {"actor": LIGHTING, "answer": "迟到的答复"}, t("2026-03-10 08:00"))
        assert q.phase is InquiryPhase.ANSWERED
        assert REPLY_LATE in q.flags
        assert q.deadline.overdue_since == t("2026-03-10 00:00")
        assert q.outbox[-1].payload["late"] is True
        assert kinds(q)[-2:] == ["reply_overdue", "answered"]
        assert "late" in q.timeline[-1].detail

    def test_an_answer_exactly_at_the_due_instant_is_late(self) -> None:
        """The deadline is the end of the counted day: at 00:00 it has passed."""
        q = ask()
        q.act("answer", {"actor": LIGHTING, "answer": "a"}, t("2026-03-10 00:00"))
        assert REPLY_LATE in q.flags

    def test_nothing_changes_an_answered_inquiry(self) -> None:
        """After the answer every action is refused."""
        q = ask()
        q.act("answer", {"actor": LIGHTING, "answer": "a"}, t("2026-03-09 10:00"))
        with pytest.raises(Rejected, match="was answered by dept-lighting"):
            q.check("answer", {"actor": LIGHTING, "answer": "b"}, t("2026-03-09 11:00"))
        with pytest.raises(Rejected, match="was answered"):
            q.check("reassign", {"actor": CENTER, "unit": "dept-roads", "reason": "r"}, t("2026-03-09 11:00"))

    def test_a_repeated_request_id_takes_effect_once(self) -> None:
        """The same request_id again is accepted and changes nothing."""
        q = ask()
        body = {"actor": CENTER, "unit": "dept-roads", "reason": "专业不对口", "request_id": "r1"}
        assert q.act("reassign", body, t("2026-03-06 11:00"))
        assert not q.act("reassign", body, t("2026-03-06 11:01"))
        assert len(q.reassignments) == 1


class TestStanding:
    @pytest.mark.parametrize(
        ("name", "body", "match"),
        [
            ("answer", {"actor": ROADS, "answer": "a"}, "allowed: a handler of the asked unit dept-lighting"),
            ("answer", {"actor": actor("dept-lighting", "operator"), "answer": "a"}, "has no standing"),
            ("answer", {"actor": CENTER, "answer": "a"}, "has no standing"),
            ("answer", {"actor": LIGHTING, "answer": ""}, "answer refused: answer:"),
            ("reassign", {"actor": LIGHTING, "unit": "dept-roads", "reason": "r"}, "platform operator"),
            ("reassign", {"actor": actor("dept-hotline", "supervisor"), "unit": "dept-roads", "reason": "r"},
             "platform operator"),
            ("reassign", {"actor": actor("center", "supervisor"), "unit": "dept-roads", "reason": "r"},
             "has no standing"),
            ("reassign", {"actor": CENTER, "unit": "dept-lighting", "reason": "r"}, "is the unit asked already"),
            ("reassign", {"actor": CENTER, "unit": "hotline", "reason": "r"}, "hotline cannot handle orders"),
            ("reassign", {"actor": CENTER, "unit": "nobody", "reason": "r"}, "unknown org 'nobody'"),
            ("withdraw", {"actor": CENTER}, "unknown action 'withdraw'; allowed: answer, reassign"),
        ],
    )  # fmt: skip
    def test_refusals_name_the_rule(self, name: str, body: dict[str, Any], match: str) -> None:
        """Who may do what: a refusal says what was wrong and what is allowed, and changes nothing."""
        q = ask()
        revision = q.revision
        with pytest.raises(Rejected, match=match):
            q.act(name, body, t("2026-03-06 11:00"))
        assert q.revision == revision
        assert q.phase is InquiryPhase.AWAITING_ANSWER

    def test_utilities_operator_may_reassign(self) -> None:
        """Both platforms' operators may reassign."""
        q = ask()
        q.act(
            "reassign",
            {"actor": actor("utilities", "operator"), "unit": "utilities", "reason": "燃气"},
            t("2026-03-06 11:00"),
        )
        assert q.unit == "utilities"

    def test_a_refused_signal_is_kept(self) -> None:
        """A refused signal lands in rejected_actions."""
        q = ask()
        q.reject("answer", {"actor": ROADS, "answer": "a"}, "answer refused: …", t("2026-03-06 11:00"))
        assert q.status().rejected_actions[0].action == "answer"


class TestReassign:
    def test_the_new_unit_answers_and_the_deadline_stays(self) -> None:
        """Reassigned: the new unit is told, the old one may no longer answer, the deadline is as it was."""
        q = ask()
        due = q.deadline.due
        q.act("reassign", {"actor": CENTER, "unit": "dept-roads", "reason": "属道桥设施"}, t("2026-03-09 09:00"))
        assert q.unit == "dept-roads"
        assert q.deadline.due == due
        entry = q.timeline[-1]
        assert entry.kind == "reassigned"
        assert "the reply deadline stays as it was" in entry.detail
        assert due.isoformat(timespec="minutes") in entry.detail
        told = [(o.recipient, o.kind) for o in q.outbox[-2:]]
        assert told == [("dept-roads", "doubtful_inquiry"), ("dept-lighting", "doubtful_reassigned")]
        with pytest.raises(Rejected, match="asked unit dept-roads"):
            q.check("answer", {"actor": LIGHTING, "answer": "a"}, t("2026-03-09 10:00"))
        q.act("answer", {"actor": ROADS, "answer": "道桥处答复"}, t("2026-03-09 10:00"))
        assert q.outbox[-1].payload["unit"] == "dept-roads"
        assert q.status().reassignments[0].from_unit == "dept-lighting"

    def test_warnings_after_a_reassignment_go_to_the_new_unit(self) -> None:
        """The escalation goes to the unit asked now."""
        q = ask()
        q.act("reassign", {"actor": CENTER, "unit": "dept-roads", "reason": "r"}, t("2026-03-06 11:00"))
        run_until(q, t("2026-03-10 00:00"))
        overdue = sorted(o.recipient for o in q.outbox if o.kind == "reply_overdue")
        assert overdue == ["dept-hotline", "dept-roads"]

    def test_reassigning_an_overdue_inquiry_keeps_it_late(self) -> None:
        """Lateness is never forgiven: a reassignment after the deadline keeps reply_late."""
        q = ask()
        run_until(q, t("2026-03-10 00:00"))
        q.act("reassign", {"actor": CENTER, "unit": "dept-roads", "reason": "r"}, t("2026-03-10 09:00"))
        assert REPLY_LATE in q.flags
        assert "overdue since" in q.outbox[-2].text
        q.act("answer", {"actor": ROADS, "answer": "a"}, t("2026-03-10 10:00"))
        assert REPLY_LATE in q.flags
        assert q.outbox[-1].payload["late"] is True
