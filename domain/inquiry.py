"""The doubtful order (存疑工单, Article 7.3) as a pure state machine.

The city hotline asks a profession's unit for a professional answer on a doubtful order. The unit
must answer within the rulebook's reply window (`doubtful_reply_working_days`, default 1 working
day, counted like a completion deadline); a warning goes out at the rulebook's warning fraction and
an escalation at the end, both to the unit and to `dept-hotline`. The platform may reassign the
question to another unit; the reply deadline stays as it was. The answer goes to the city hotline's
outbox. A late answer is flagged `reply_late`, and that is never forgiven.

`Inquiry` follows `domain.order.Order`: time comes in as an argument, every change is returned as
data (timeline entries, outbox items, deadline changes), and the `DoubtfulOrder` workflow only
wires it to Temporal.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Final

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from domain import contract
from domain import deadlines as dl
from domain.calendar import SHANGHAI, BusinessCalendar
from domain.contract import Flag, InquiryAction
from domain.directory import ORGANISATIONS, can_handle
from domain.errors import RefusalKind, Rejected
from domain.machine import Machine, MachineSnapshot, fmt, iso, span
from domain.models import (
    ORDER_NO_PATTERN,
    Action,
    Actor,
    DeadlineState,
    RejectedAction,
    Role,
    Text,
    TimelineEntry,
    check_not_future,
)
from domain.rulebook import Rulebook

#: Platform operators who may reassign a doubtful order (the two handling platforms).
PLATFORMS: Final = ("center", "utilities")

#: The department that supervises the city hotline's business and hears of every escalation.
SUPERVISION: Final = "dept-hotline"

#: Key of the reply deadline among `InquiryStatus.deadline`'s kind, its timer names, its late flag.
REPLY: Final = "reply"
REPLY_LABEL: Final = "reply deadline"
REPLY_WARNING_LABEL: Final = "reply warning"
REPLY_LATE: Final = Flag.REPLY_LATE


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _handling_unit(v: str) -> str:
    if not can_handle(v):
        raise ValueError(
            f"{v!r} cannot handle orders; allowed: a division (dept-*), a commission unit (unit-*), "
            "a district commission (district-*) or utilities"
        )
    return v


class NewInquiry(_Value):
    """One doubtful order as the city hotline asks it: the input of the `DoubtfulOrder` workflow."""

    inquiry_no: str = Field(
        pattern=ORDER_NO_PATTERN,
        description="The city hotline's number of the inquiry: 1-64 of A-Z a-z 0-9 - _.",
    )
    asked_at: AwareDatetime = Field(description="When the city hotline asked (aware ISO-8601); the clock start.")
    unit: str = Field(description="The org id of the profession's unit asked (one that can handle orders).")
    order_no: str | None = Field(
        default=None, pattern=ORDER_NO_PATTERN, description="The order the question concerns, if any."
    )
    question: str = Field(min_length=1, max_length=5000, description="What the city hotline asks.")

    _check_unit = field_validator("unit")(classmethod(lambda cls, v: _handling_unit(v)))

    @property
    def workflow_id(self) -> str:
        """The workflow id of this inquiry, `inquiry-<inquiry_no>`."""
        return contract.inquiry_workflow_id(self.inquiry_no)

    @property
    def outbox_order_no(self) -> str:
        """What the outbox tables' `order_no` column holds: the order's number, else `inquiry-<no>`."""
        return self.order_no or self.workflow_id

    def check_arrival(self, now: datetime) -> None:
        """Refuse an `asked_at` more than five minutes after ``now``.

        Raises:
            InvalidOrder: naming the field and the allowed range.
        """
        check_not_future("asked_at", self.asked_at, now)


class Answer(Action):
    """`answer`: the asked unit's professional answer (Article 7.3)."""

    answer: Text = Field(description="The unit's answer, in words.")


class Reassign(Action):
    """`reassign`: the platform sends the question to another unit; the reply deadline stays."""

    unit: str = Field(description="The org id of the unit now asked (one that can handle orders).")
    reason: Text = Field(description="Why another unit answers.")

    @field_validator("unit")
    @classmethod
    def _known_unit(cls, v: str) -> str:
        if v not in ORGANISATIONS:
            raise ValueError(
                f"unknown org {v!r}; allowed: dept-*, unit-*, district-* ids of the organisation directory or utilities"
            )
        return v


#: Every action of a doubtful order: name -> payload model.
INQUIRY_ACTIONS: Final[dict[str, type[Action]]] = {InquiryAction.ANSWER: Answer, InquiryAction.REASSIGN: Reassign}


class InquiryPhase(StrEnum):
    """Where a doubtful order stands."""

    AWAITING_ANSWER = "awaiting_answer"
    ANSWERED = "answered"


class Reassignment(_Value):
    """One reassignment of the question to another unit."""

    at: AwareDatetime
    by: Actor
    from_unit: str
    to_unit: str
    reason: str


class InquiryStatus(_Value):
    """The `status` query's answer and the `DoubtfulOrder` workflow's result."""

    inquiry_no: str
    unit: str = Field(description="The unit asked now.")
    order_no: str | None = None
    question: str
    asked_at: AwareDatetime
    rulebook: str
    phase: InquiryPhase
    waiting_for: str = Field(default="", description="What the inquiry waits for, and until when.")
    answer: str | None = None
    answered_at: AwareDatetime | None = None
    answered_by: Actor | None = None
    reassignments: list[Reassignment] = Field(default_factory=list)
    deadline: DeadlineState = Field(description="The reply deadline, with its rule and what became of it.")
    flags: list[str] = Field(default_factory=list, description="`reply_late` once the deadline was missed.")
    rejected_actions: list[RejectedAction] = Field(default_factory=list)
    timeline: list[TimelineEntry] = Field(default_factory=list)


class InquirySnapshot(MachineSnapshot):
    """The whole doubtful order, carried into a new run of its workflow (continue-as-new)."""

    new: NewInquiry
    rulebook: Rulebook
    unit: str
    phase: InquiryPhase
    answer: str | None = None
    answered_at: AwareDatetime | None = None
    answered_by: Actor | None = None
    reassignments: list[Reassignment]


class Inquiry(Machine):
    """One doubtful order's state and rules. Every public method takes ``now`` (aware) and is pure."""

    actions = INQUIRY_ACTIONS
    # an answer at or after the due instant finds the deadline overdue (it is late)
    fire_due_first = True

    def __init__(self, new: NewInquiry, rulebook: Rulebook, calendar: BusinessCalendar, now: datetime) -> None:
        """Bind the rulebook, compute the reply deadline, tell the unit, mark a missed window."""
        super().__init__()
        self.new = new
        self.rulebook = rulebook
        self.calendar = calendar
        self.unit = new.unit
        self.phase = InquiryPhase.AWAITING_ANSWER
        self.answer: str | None = None
        self.answered_at: datetime | None = None
        self.answered_by: Actor | None = None
        self.reassignments: list[Reassignment] = []

        d = dl.doubtful_reply_deadline(rulebook, calendar, new.asked_at)
        self.deadlines[REPLY] = DeadlineState(
            kind=REPLY,
            label=REPLY_LABEL,
            start=d.start,
            due=d.due,
            warn_at=dl.warning_instant(rulebook, d),
            explanation=d.explanation,
            calendar_confirmed=d.calendar_confirmed,
        )
        about = f" on order {new.order_no}" if new.order_no else ""
        self._note(now, "asked", None, f"the city hotline asked {new.unit}{about} at {iso(new.asked_at)}")
        self._notify(
            now,
            new.unit,
            "doubtful_inquiry",
            f"the city hotline asks for your professional answer{about}; reply by {fmt(d.due)}",
        )
        self.fire_due(now)

    # -- the actions ------------------------------------------------------------------------------

    def snapshot(self, *, entries_written: int, outbox_written: int) -> InquirySnapshot:
        """The whole inquiry as data, to carry into a new run; `restore` gives it back unchanged."""
        return InquirySnapshot(
            **self._machine_snapshot(entries_written=entries_written, outbox_written=outbox_written),
            new=self.new,
            rulebook=self.rulebook,
            unit=self.unit,
            phase=self.phase,
            answer=self.answer,
            answered_at=self.answered_at,
            answered_by=self.answered_by,
            reassignments=list(self.reassignments),
        )

    @classmethod
    def restore(cls, snapshot: InquirySnapshot, calendar: BusinessCalendar) -> Inquiry:
        """The inquiry of ``snapshot``, on ``calendar``: no event is recorded."""
        inquiry = cls.__new__(cls)
        inquiry._restore_machine(snapshot)
        inquiry.new = snapshot.new
        inquiry.rulebook = snapshot.rulebook
        inquiry.calendar = calendar
        inquiry.unit = snapshot.unit
        inquiry.phase = snapshot.phase
        inquiry.answer = snapshot.answer
        inquiry.answered_at = snapshot.answered_at
        inquiry.answered_by = snapshot.answered_by
        inquiry.reassignments = list(snapshot.reassignments)
        return inquiry

    def projection(self) -> InquiryStatus:
        """The status without its timeline: what each record carries."""
        return self.status().model_copy(update={"timeline": []})

    @property
    def deadline(self) -> DeadlineState:
        """The reply deadline, with its rule and what became of it."""
        return self.deadlines[REPLY]

    @property
    def closed(self) -> bool:
        """Whether the inquiry is answered."""
        return self.phase is InquiryPhase.ANSWERED

    def _closed_refusal(self, name: str, now: datetime) -> str:
        return (
            f"{name} refused: the inquiry was answered by {self.unit} at "
            f"{iso(self.answered_at or now)}; nothing may change it"
        )

    def _check_answer(self, a: Answer, now: datetime) -> None:
        if a.actor.org != self.unit or a.actor.role is not Role.HANDLER:
            raise Rejected(
                f"answer refused: {a.actor.org} ({a.actor.role.value}) has no standing; allowed: "
                f"a handler of the asked unit {self.unit} (org {self.unit!r}, role 'handler')",
                RefusalKind.NO_STANDING,
            )

    def _apply_answer(self, a: Answer, now: datetime) -> None:
        # `act` fired the deadline first: an answer at or after the due instant finds it overdue
        late = self.deadline.overdue_since is not None
        self.deadlines[REPLY] = self.deadline.model_copy(update={"met_at": now})
        self.phase = InquiryPhase.ANSWERED
        self.answer = a.answer
        self.answered_at = now
        self.answered_by = a.actor
        when = f"late: it was due {iso(self.deadline.due)}" if late else f"due {iso(self.deadline.due)}"
        self._note(now, "answered", a, f"{self.unit} answered ({when}): {a.answer}")
        self._to_hotline(
            now,
            "doubtful_answer",
            f"the professional answer of {self.unit} to inquiry {self.new.inquiry_no}",
            {
                "inquiry_no": self.new.inquiry_no,
                "order_no": self.new.order_no,
                "unit": self.unit,
                "answer": a.answer,
                "answered_at": now.astimezone(SHANGHAI).isoformat(),
                "late": late,
            },
        )

    def _check_reassign(self, a: Reassign, now: datetime) -> None:
        if a.actor.org not in PLATFORMS or a.actor.role is not Role.OPERATOR:
            raise Rejected(
                f"reassign refused: {a.actor.org} ({a.actor.role.value}) has no standing; allowed: "
                "a platform operator (org 'center' or 'utilities', role 'operator')",
                RefusalKind.NO_STANDING,
            )
        if not can_handle(a.unit):
            raise Rejected(
                f"reassign refused: {a.unit} cannot handle orders; allowed: a division (dept-*), "
                "a commission unit (unit-*), a district commission (district-*) or utilities",
                RefusalKind.INVALID_PAYLOAD,
            )
        if a.unit == self.unit:
            raise Rejected(
                f"reassign refused: {a.unit} is the unit asked already; allowed: another unit",
                RefusalKind.INVALID_PAYLOAD,
            )

    def _apply_reassign(self, a: Reassign, now: datetime) -> None:
        old = self.unit
        self.reassignments.append(Reassignment(at=now, by=a.actor, from_unit=old, to_unit=a.unit, reason=a.reason))
        self.unit = a.unit
        due = self.deadline.due
        self._note(
            now,
            "reassigned",
            a,
            f"from {old} to {a.unit}: {a.reason}; the reply deadline stays as it was, {iso(due)}",
        )
        state = "overdue since" if self.deadline.overdue_since else "reply by"
        self._notify(
            now,
            a.unit,
            "doubtful_inquiry",
            f"a doubtful order reassigned to you from {old}: {a.reason}; {state} {fmt(due)}",
        )
        self._notify(now, old, "doubtful_reassigned", f"the doubtful order was reassigned to {a.unit}: {a.reason}")

    # -- timers -------------------------------------------------------------------------------

    def _warn(self, key: str, now: datetime) -> None:
        d = self.deadline
        self.deadlines[REPLY] = d.model_copy(update={"warned_at": now})
        fraction = self.rulebook.warning_fraction
        text = f"{REPLY_LABEL} of {self.unit}: {fraction:.0%} of the window has passed; due {fmt(d.due)}"
        if d.due > now:
            text += f" (in {span(d.due - now)})"
        self._note(now, "reply_warning", None, text)
        for org in self._responsible():
            self._notify(now, org, "reply_warning", text, due=d.due)

    def _overdue(self, key: str, now: datetime) -> None:
        d = self.deadline
        self.deadlines[REPLY] = d.model_copy(update={"overdue_since": d.due})
        self._flag(REPLY_LATE)
        text = f"{REPLY_LABEL} of {self.unit} missed: it was due {fmt(d.due)}"
        self._note(now, "reply_overdue", None, text)
        for org in self._responsible():
            self._notify(now, org, "reply_overdue", text, due=d.due)

    def _responsible(self) -> list[str]:
        """Who hears of a warning or an escalation: the unit asked now, and supervision."""
        return list(dict.fromkeys([self.unit, SUPERVISION]))

    # -- views --------------------------------------------------------------------------------

    @staticmethod
    def preliminary_status(new: NewInquiry, rulebook: Rulebook) -> InquiryStatus:
        """What `status` answers while the inquiry is set up (its calendar loads): what is known already."""
        return InquiryStatus(
            inquiry_no=new.inquiry_no,
            unit=new.unit,
            order_no=new.order_no,
            question=new.question,
            asked_at=new.asked_at,
            rulebook=rulebook.id,
            phase=InquiryPhase.AWAITING_ANSWER,
            waiting_for="its reply deadline: the inquiry is being set up (loading the business calendar)",
            deadline=DeadlineState(
                kind=REPLY,
                label=REPLY_LABEL,
                start=new.asked_at,
                due=new.asked_at,
                explanation="not computed yet: the business calendar is loading",
                calendar_confirmed=False,
            ),
        )

    def status(self) -> InquiryStatus:
        """The `status` query's answer."""
        n = self.new
        return InquiryStatus(
            inquiry_no=n.inquiry_no,
            unit=self.unit,
            order_no=n.order_no,
            question=n.question,
            asked_at=n.asked_at,
            rulebook=self.rulebook.id,
            phase=self.phase,
            waiting_for=self.waiting_for(),
            answer=self.answer,
            answered_at=self.answered_at,
            answered_by=self.answered_by,
            reassignments=list(self.reassignments),
            deadline=self.deadline,
            flags=list(self.flags),
            rejected_actions=list(self.rejected),
            timeline=list(self.timeline),
        )

    def waiting_for(self) -> str:
        """What the inquiry waits for, and until when, in one line."""
        if self.phase is InquiryPhase.ANSWERED:
            return f"nothing: answered by {self.unit}"
        d = self.deadline
        if d.overdue_since is not None:
            return f"the answer of {self.unit} (OVERDUE since {fmt(d.due)})"
        return f"the answer of {self.unit} by {fmt(d.due)}"
