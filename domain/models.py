"""The contract's payloads as pydantic v2 models (``docs/contract.md``).

Every model here is what goes over the wire as plain JSON: the names are the contract's, enums are
``StrEnum`` so the JSON carries the contract's words, and every instant is timezone-aware.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Final

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from domain.contract import OrderAction, order_workflow_id
from domain.directory import DISTRICTS, ORGANISATIONS
from domain.errors import InvalidOrder

#: How far in the future a `dispatched_at` may lie (clock skew between the city hotline and us).
MAX_FUTURE_SKEW: Final = timedelta(minutes=5)

ORDER_NO_PATTERN: Final = r"^[A-Za-z0-9_-]{1,64}$"
PHONE_PATTERN: Final = r"^\+?[0-9][0-9 -]{2,31}$"
#: The most items a list in an action may hold (assisting units, appeal materials).
MAX_LIST: Final = 20


class Tier(StrEnum):
    """Urgency tier (普通件 / 急件 / 紧急件 / 特急件)."""

    NORMAL = "normal"
    URGENT = "urgent"
    VERY_URGENT = "very_urgent"
    EXTRA_URGENT = "extra_urgent"


class Category(StrEnum):
    """Order category; heating, gas and road_bridge go to the Public Utilities Bureau's platform."""

    GENERAL = "general"
    HEATING = "heating"
    GAS = "gas"
    ROAD_BRIDGE = "road_bridge"


class Platform(StrEnum):
    """The handling platform (承办平台)."""

    CENTER = "center"
    UTILITIES = "utilities"


def platform_for(category: Category) -> Platform:
    """The platform an order of ``category`` goes to (Articles 5, 6 and 10)."""
    return Platform.CENTER if category is Category.GENERAL else Platform.UTILITIES


class Phase(StrEnum):
    """Where an order stands."""

    AWAITING_RECEIPT = "awaiting_receipt"
    RECEIVED = "received"
    IN_REVIEW = "in_review"
    IN_HANDLING = "in_handling"
    RESULT_REVIEW = "result_review"
    AWAITING_CALLBACK = "awaiting_callback"
    REHANDLING = "rehandling"
    APPEAL_WINDOW = "appeal_window"
    APPEALING = "appealing"
    CLOSED = "closed"


class Outcome(StrEnum):
    """How a closed order ended."""

    SATISFIED = "satisfied"
    BASICALLY_SATISFIED = "basically_satisfied"
    DISSATISFIED = "dissatisfied"
    APPEAL_UPHELD = "appeal_upheld"
    APPEAL_REJECTED = "appeal_rejected"
    APPEAL_UNANSWERED = "appeal_unanswered"
    RETURNED_TO_HOTLINE = "returned_to_hotline"
    WITHDRAWN = "withdrawn"
    NO_CALLBACK = "no_callback"


class Verdict(StrEnum):
    """The reporter's answer at callback."""

    SATISFIED = "satisfied"
    BASICALLY_SATISFIED = "basically_satisfied"
    DISSATISFIED = "dissatisfied"


class Role(StrEnum):
    """The role an actor acts in."""

    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    HANDLER = "handler"
    HOTLINE = "hotline"


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Reporter(_Value):
    """The citizen who called the hotline. Personal data: never logged, never in search attributes."""

    name: str = Field(min_length=1, max_length=64, description="Reporter's name.")
    phone: str = Field(pattern=PHONE_PATTERN, description="Reporter's phone number (digits, +, -).")
    confidential: bool = Field(
        default=False,
        description="The reporter asked for confidentiality (Art. 8.2): nobody but the platform sees the name; "
        "the assigned units see the phone (they must call, Art. 8.4), marked confidential.",
    )


class Location(_Value):
    """Where the problem is."""

    district: str = Field(description="District id, e.g. `hexi` (see the contract's list).")
    address: str = Field(min_length=1, max_length=500, description="Street address or landmark.")

    @field_validator("district")
    @classmethod
    def _known_district(cls, v: str) -> str:
        if v not in DISTRICTS:
            raise ValueError(f"unknown district {v!r}; allowed: {', '.join(DISTRICTS)}")
        return v


class NewOrder(_Value):
    """One order as the city hotline transfers it: the input of the `WorkOrder` workflow."""

    order_no: str = Field(
        pattern=ORDER_NO_PATTERN,
        description="The city hotline's order number: 1-64 of A-Z a-z 0-9 - _.",
    )
    tier: Tier = Field(description="Urgency tier.")
    category: Category = Field(description="Category; decides the platform.")
    dispatched_at: AwareDatetime = Field(
        description="When the city hotline transferred the order (aware ISO-8601); the clock start."
    )
    reporter: Reporter = Field(description="The reporter.")
    location: Location = Field(description="Where.")
    subject: str = Field(min_length=1, max_length=200, description="One-line subject.")
    description: str = Field(default="", max_length=10000, description="What the reporter said.")
    demands: str = Field(default="", max_length=2000, description="What the reporter asks for.")

    @property
    def platform(self) -> Platform:
        """The handling platform for this order's category."""
        return platform_for(self.category)

    @property
    def workflow_id(self) -> str:
        """The workflow id of this order, `order-<order_no>`."""
        return order_workflow_id(self.order_no)

    def check_arrival(self, now: datetime) -> None:
        """Refuse a `dispatched_at` more than five minutes after ``now``.

        Raises:
            InvalidOrder: naming the field and the allowed range.
        """
        check_not_future("dispatched_at", self.dispatched_at, now)


def check_not_future(field: str, value: datetime, now: datetime) -> None:
    """Refuse an instant of an arriving record more than `MAX_FUTURE_SKEW` after ``now``.

    Raises:
        InvalidOrder: naming the field and the allowed range.
    """
    if value > now + MAX_FUTURE_SKEW:
        raise InvalidOrder(
            f"{field}: {value.isoformat()} lies in the future; allowed: "
            f"not later than {(now + MAX_FUTURE_SKEW).isoformat()} (now + 5 minutes)"
        )


def _known_org(v: str) -> str:
    if v not in ORGANISATIONS:
        shown = repr(v) if len(v) <= 64 else f"{v[:48]!r}… ({len(v)} characters)"
        raise ValueError(
            f"unknown org {shown}; allowed: hotline, center, utilities, dept-*, unit-*, district-* "
            "ids of the organisation directory"
        )
    return v


class Actor(_Value):
    """Who takes an action."""

    org: str = Field(description="Org id from the organisation directory.")
    person: str = Field(min_length=1, max_length=64, description="Name or staff id.")
    role: Role = Field(description="The role the person acts in.")

    _check_org = field_validator("org")(classmethod(lambda cls, v: _known_org(v)))


RequestId = Annotated[
    str,
    Field(min_length=1, max_length=128, description="Makes a repeated action take effect once."),
]


class Action(_Value):
    """Fields every action carries."""

    actor: Actor = Field(description="Who acts.")
    request_id: RequestId | None = None


class Handler(_Value):
    """The person a unit names as responsible for its handling order (专人, Article 8.4)."""

    person: str = Field(min_length=1, max_length=64, description="Name or staff id of the handler.")
    phone: str | None = Field(
        default=None, pattern=PHONE_PATTERN, description="How the platform reaches the handler (digits, +, -)."
    )


class UnitAction(Action):
    """Fields every action of an assigned unit carries besides `actor`."""

    handler: Handler | None = Field(
        default=None,
        description="Names (or renames) the unit's handler; without it the person of the unit's first action is.",
    )


class Receive(Action):
    """`receive`: the platform checks the order in (查收, Article 8.1)."""


Text = Annotated[str, Field(min_length=1, max_length=5000)]
OrgId = Annotated[str, Field(description="Org id from the organisation directory.")]


class Propose(Action):
    """`propose`: the platform's proposed handling (拟办意见, Article 6.1)."""

    lead_unit: OrgId = Field(description="The unit that leads (Article 9).")
    assisting_units: list[OrgId] = Field(
        default_factory=list, max_length=MAX_LIST, description="Units that assist (at most 20)."
    )
    opinion: Text = Field(description="The proposed handling, in words.")

    _check_lead = field_validator("lead_unit")(classmethod(lambda cls, v: _known_org(v)))

    @field_validator("assisting_units")
    @classmethod
    def _check_assisting(cls, v: list[str]) -> list[str]:
        for org in v:
            _known_org(org)
        if len(set(v)) != len(v):
            raise ValueError("an assisting unit is listed twice")
        return v


class Review(Action):
    """`review`: the supervising department approves or sends back the proposal (Art. 4.3, 8.3)."""

    approved: bool = Field(description="True dispatches the order to the proposed units.")
    comment: str = Field(default="", max_length=5000, description="Why, especially when sent back.")


class ReturnToHotline(Action):
    """`return_to_hotline`: the platform gives the order back to the city hotline."""

    reason: Text = Field(description="Why the commission does not handle it.")


class ContactMethod(StrEnum):
    """How a unit reached the reporter."""

    PHONE = "phone"
    VISIT = "visit"
    SMS = "sms"
    OTHER = "other"


class ContactReporter(UnitAction):
    """`contact_reporter`: a unit records its contact with the reporter (Article 8.4)."""

    at: AwareDatetime = Field(description="When the reporter was contacted.")
    method: ContactMethod = Field(description="phone, visit, sms or other.")
    note: str = Field(default="", max_length=5000, description="What was said.")


class ReturnOrder(UnitAction):
    """`return_order`: a unit returns its handling order within 8 hours (Article 8.5)."""

    reason: Text = Field(description="Why the unit returns it.")
    basis: Text = Field(description="The written basis (regulation, responsibility list, …).")


class RequestExtension(UnitAction):
    """`request_extension`: the lead unit cannot finish in time (Article 8.6)."""

    reason: Text = Field(description="Why the deadline cannot be met.")
    requested_due: AwareDatetime = Field(description="The proposed new completion deadline.")
    reporter_notified_at: AwareDatetime = Field(description="When the reporter was told by phone.")
    written_reply: Text = Field(description="The unit's written reply to the platform.")


class Contribute(UnitAction):
    """`contribute`: an assisting unit's contribution (Article 9)."""

    content: Text = Field(description="What the assisting unit did or found.")


class ReleaseAssistingUnit(Action):
    """`release_assisting_unit`: the platform releases an assisting unit from contributing."""

    unit: OrgId = Field(description="The assisting unit released.")
    reason: Text = Field(description="Why.")


class SubmitResult(UnitAction):
    """`submit_result`: the lead unit's result, which completes the handling (Articles 7.1, 8.4)."""

    result: Text = Field(description="What was done.")
    reporter_informed_at: AwareDatetime = Field(description="When the reporter was told the result.")
    appeal_materials: list[Text] = Field(
        default_factory=list,
        max_length=MAX_LIST,
        description="Materials for an appeal, when the unit contests (7.2); at most 20.",
    )


class ReviewResult(Action):
    """`review_result`: the platform replies to the city hotline with the unit's result, or sends it back."""

    approved: bool = Field(description="True replies to the city hotline; false sends the result back to the lead.")
    comment: str = Field(default="", max_length=5000, description="Why; required when sending it back.")

    @model_validator(mode="after")
    def _comment_when_sent_back(self) -> ReviewResult:
        if not self.approved and not self.comment.strip():
            raise ValueError("comment is required when approved is false (the lead unit must know what to redo)")
        return self


class ForwardExtension(Action):
    """`forward_extension`: the platform applies to the city hotline for a unit's extension, or declines it."""

    forward: bool = Field(description="True applies to the city hotline; false declines the request.")
    note: str = Field(default="", max_length=5000, description="The platform's note; the reason when declining.")

    @model_validator(mode="after")
    def _reason_when_declined(self) -> ForwardExtension:
        if not self.forward and not self.note.strip():
            raise ValueError("note is required when forward is false (the unit must know why it was declined)")
        return self


class FileAppeal(Action):
    """`file_appeal`: the platform contests a dissatisfied verdict (Articles 5.5, 6.3)."""

    reason: Text = Field(description="Why the verdict should not count.")
    materials: list[Text] = Field(
        default_factory=list, max_length=MAX_LIST, description="The appeal materials (at most 20)."
    )


class ExtensionDecision(Action):
    """`extension_decision`: the city hotline approves or refuses a pending extension."""

    approved: bool
    approved_due: AwareDatetime | None = Field(default=None, description="Required when approved.")
    note: str = Field(default="", max_length=5000)

    @model_validator(mode="after")
    def _due_when_approved(self) -> ExtensionDecision:
        if self.approved and self.approved_due is None:
            raise ValueError("approved_due is required when approved is true")
        return self


class Callback(Action):
    """`callback`: the city hotline's callback verdict."""

    verdict: Verdict
    note: str = Field(default="", max_length=5000)


class AppealDecision(Action):
    """`appeal_decision`: the city hotline decides a pending appeal."""

    upheld: bool
    note: str = Field(default="", max_length=5000)


class Withdraw(Action):
    """`withdraw`: the city hotline withdraws the order."""

    reason: Text


#: Every action of the contract: name -> payload model.
ACTIONS: Final[dict[str, type[Action]]] = {
    OrderAction.RECEIVE: Receive,
    OrderAction.PROPOSE: Propose,
    OrderAction.REVIEW: Review,
    OrderAction.RETURN_TO_HOTLINE: ReturnToHotline,
    OrderAction.CONTACT_REPORTER: ContactReporter,
    OrderAction.RETURN_ORDER: ReturnOrder,
    OrderAction.REQUEST_EXTENSION: RequestExtension,
    OrderAction.CONTRIBUTE: Contribute,
    OrderAction.RELEASE_ASSISTING_UNIT: ReleaseAssistingUnit,
    OrderAction.SUBMIT_RESULT: SubmitResult,
    OrderAction.REVIEW_RESULT: ReviewResult,
    OrderAction.FORWARD_EXTENSION: ForwardExtension,
    OrderAction.FILE_APPEAL: FileAppeal,
    OrderAction.EXTENSION_DECISION: ExtensionDecision,
    OrderAction.CALLBACK: Callback,
    OrderAction.APPEAL_DECISION: AppealDecision,
    OrderAction.WITHDRAW: Withdraw,
}


class TimelineEntry(_Value):
    """One thing that happened to an order."""

    at: AwareDatetime
    kind: str = Field(description="What happened, e.g. `received`, `receipt_warning`.")
    actor: Actor | None = Field(default=None, description="Who did it; none for the system.")
    detail: str = Field(default="", description="Words for a person.")


class RejectedAction(_Value):
    """A signal that the rules refused; kept so nobody can say it was never sent."""

    at: AwareDatetime
    action: str
    actor: dict[str, Any] | None = None
    request_id: str | None = None
    reason: str


class DeadlineState(_Value):
    """One deadline of an order, with the rule that produced it and what became of it."""

    kind: str = Field(description="`receipt`, `completion`, `rehandling_1`, `return:<unit>`, `callback`.")
    label: str = Field(description="The name of its timer in the UI, e.g. `receipt window`.")
    start: AwareDatetime = Field(description="When its clock started.")
    due: AwareDatetime
    warn_at: AwareDatetime | None = Field(default=None, description="When the warning fires.")
    explanation: str
    calendar_confirmed: bool = True
    warned_at: AwareDatetime | None = None
    overdue_since: AwareDatetime | None = None
    met_at: AwareDatetime | None = None
    closed_at: AwareDatetime | None = Field(
        default=None, description="When it stopped mattering without being met (order closed…)."
    )
    late_counts: bool = Field(
        default=True, description="False for windows that are a right, not a duty (the 8-hour return)."
    )
    warning_label: str | None = Field(
        default=None, description="The name of its warning's timer when not `<label> warning` (`dispatch reminder`)."
    )
    paused_at: AwareDatetime | None = Field(
        default=None,
        description="A result waits for the platform's review since then: the deadline neither warns nor ends "
        "meanwhile; an approved result meets it at its submission.",
    )
    overdue_lifted_at: AwareDatetime | None = Field(
        default=None, description="When an extension approved after the deadline lifted its overdue mark."
    )
    next_reminder_at: AwareDatetime | None = Field(
        default=None, description="While overdue and unmet: when the next reminder goes out."
    )
    reminders: int = Field(default=0, description="Reminders sent since it became overdue.")


class Contact(_Value):
    """A recorded contact with the reporter."""

    at: AwareDatetime
    method: ContactMethod
    note: str = ""
    recorded_at: AwareDatetime
    round: int = Field(description="0 for the first handling, n for re-handling round n.")


class Contribution(_Value):
    """An assisting unit's contribution."""

    at: AwareDatetime
    content: str
    round: int = Field(default=0, description="0 for the first handling, n for re-handling round n.")


class Assignment(_Value):
    """One unit's handling order."""

    unit: str
    role: str = Field(description="`lead` or `assisting`.")
    handler: Handler | None = Field(default=None, description="The unit's named handler (专人, Art. 8.4).")
    dispatched_at: AwareDatetime
    return_due: AwareDatetime
    state: str = Field(description="`active`, `returned` or `released`.")
    ended_at: AwareDatetime | None = None
    end_reason: str = ""
    return_basis: str = ""
    contacts: list[Contact] = Field(default_factory=list)
    contributions: list[Contribution] = Field(default_factory=list)


class ProposalRecord(_Value):
    """A proposal and what the review made of it."""

    at: AwareDatetime
    by: Actor
    lead_unit: str
    assisting_units: list[str]
    opinion: str
    reviewed_at: AwareDatetime | None = None
    approved: bool | None = None
    comment: str = ""
    reviewed_by: Actor | None = None


class ExtensionRecord(_Value):
    """An extension asked for, and the city hotline's decision."""

    requested_at: AwareDatetime
    by: Actor
    deadline: str = Field(description="The deadline it would move (`completion` or `rehandling_n`).")
    reason: str
    current_due: AwareDatetime
    requested_due: AwareDatetime
    reporter_notified_at: AwareDatetime
    written_reply: str
    decision: str | None = Field(
        default=None,
        description="None while pending; `approved` / `refused` (city hotline), `declined` (platform), `moot` (a "
        "result came first), `ended` (the unit returned the order, or the order closed).",
    )
    waits_at: str | None = Field(
        default=None, description="While pending: `platform` (to forward it) or `hotline` (to decide it)."
    )
    forwarded_at: AwareDatetime | None = None
    forwarded_by: Actor | None = None
    platform_note: str = Field(default="", description="The platform's note when forwarding or declining.")
    decided_at: AwareDatetime | None = None
    approved_due: AwareDatetime | None = None
    note: str = ""


class ResultRecord(_Value):
    """A result submitted by the lead unit."""

    at: AwareDatetime
    by: Actor
    round: int
    result: str
    reporter_informed_at: AwareDatetime
    appeal_materials: list[str] = Field(default_factory=list)
    reviewed_at: AwareDatetime | None = Field(default=None, description="When the platform reviewed it.")
    approved: bool | None = Field(default=None, description="True: replied to the city hotline; false: sent back.")
    review_comment: str = ""
    reviewed_by: Actor | None = None


class CallbackRecord(_Value):
    """A callback verdict."""

    at: AwareDatetime
    round: int
    verdict: Verdict
    note: str = ""


class AppealRecord(_Value):
    """The platform's appeal and its decision."""

    filed_at: AwareDatetime
    by: Actor
    reason: str
    materials: list[str]
    upheld: bool | None = None
    decided_at: AwareDatetime | None = None
    note: str = ""


class OrderStatus(_Value):
    """The `status` query's answer and the workflow's result."""

    order_no: str
    tier: Tier
    category: Category
    platform: Platform
    district: str
    subject: str
    dispatched_at: AwareDatetime
    rulebook: str
    lifecycle: int = Field(
        default=1, description="The behaviour version the order was started with and keeps (docs/rules.md)."
    )
    phase: Phase
    outcome: Outcome | None = None
    closed_at: AwareDatetime | None = None
    waiting_for: str = Field(default="", description="What the order waits for, and until when.")
    deadlines: dict[str, DeadlineState] = Field(default_factory=dict)
    flags: list[str] = Field(default_factory=list)
    units: list[str] = Field(default_factory=list, description="Units assigned now, lead first.")
    assignments: list[Assignment] = Field(default_factory=list)
    proposals: list[ProposalRecord] = Field(default_factory=list)
    extensions: list[ExtensionRecord] = Field(default_factory=list)
    results: list[ResultRecord] = Field(default_factory=list)
    callbacks: list[CallbackRecord] = Field(default_factory=list)
    rehandling_round: int = 0
    appeal: AppealRecord | None = None
    rejected_actions: list[RejectedAction] = Field(default_factory=list, description="The latest refused signals.")
    rejected_total: int = Field(default=0, description="How many signals were refused in all.")
    timeline: list[TimelineEntry] = Field(default_factory=list)


class UnitView(_Value):
    """Another unit on the order, as a unit sees it."""

    unit: str
    role: str = Field(description="`lead` or `assisting`.")
    state: str = Field(description="`active`, `returned` or `released`.")
    handler: Handler | None = None


class ContributionView(_Value):
    """An assisting unit's contribution, as the lead sees it (Article 9)."""

    unit: str
    at: AwareDatetime
    content: str
    round: int = Field(default=0, description="0 for the first handling, n for re-handling round n.")


#: What a unit is told when the reporter asked for confidentiality (Articles 8.2 and 8.4).
CONFIDENTIAL_NOTE: Final = (
    "CONFIDENTIAL (Art. 8.2): the reporter asked not to be disclosed. Call them on this phone (Art. 8.4); "
    "never say who reported, to anyone, least of all to the party complained about."
)


class HandlingOrder(_Value):
    """What a unit sees (承办工单, Articles 8.2, 8.4, 9): a confidential reporter's phone to call, never the name."""

    order_no: str
    tier: Tier
    category: Category
    unit: str
    role: str
    dispatched_at: AwareDatetime
    return_due: AwareDatetime
    completion_due: AwareDatetime | None
    completion_explanation: str
    reporter_name: str | None
    reporter_phone: str | None
    confidential: bool
    district: str
    address: str
    subject: str
    description: str
    demands: str
    opinion: str = Field(description="The platform's approved proposal.")
    phase: Phase
    rehandling_round: int
    confidentiality_note: str = Field(default="", description="The instruction when the reporter is confidential.")
    handler: Handler | None = Field(default=None, description="This unit's named handler.")
    lead_unit: str | None = Field(default=None, description="The unit that leads (Article 9).")
    units: list[UnitView] = Field(default_factory=list, description="Every unit on the order, lead first.")
    contributions: list[ContributionView] = Field(
        default_factory=list, description="Assisting units' contributions: all of them for the lead, its own else."
    )
    deadlines: dict[str, DeadlineState] = Field(
        default_factory=dict, description="This unit's own deadlines (its return window; the completion for the lead)."
    )
    latest_verdict: CallbackRecord | None = Field(
        default=None, description="The latest callback verdict and its note (why the reporter was dissatisfied)."
    )
    latest_result: ResultRecord | None = Field(
        default=None, description="For the lead: its latest result and the platform's review of it."
    )


def describe_validation_error(err: ValidationError) -> str:
    """One line per problem: the field's dotted path, what was wrong, what was given."""
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(payload)"
        msg = e["msg"]
        if e["type"] == "timezone_aware":
            msg = "a naive datetime is not allowed; give an offset, e.g. 2026-11-27T10:15:00+08:00"
        elif e["type"] == "extra_forbidden":
            msg = "unknown field"
        elif e["type"] == "missing":
            msg = "required field is missing"
        lines.append(f"{loc}: {msg}")
    return "; ".join(lines)
