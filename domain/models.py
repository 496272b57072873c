"""The contract's payloads as pydantic v2 models (``../shared/contract.md``).

Every model here is what goes over the wire as plain JSON: the names are the contract's, enums are
``StrEnum`` so the JSON carries the contract's words, and every instant is timezone-aware.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Final

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from domain.directory import DISTRICTS, ORGANISATIONS
from domain.errors import InvalidOrder

#: How far in the future a `dispatched_at` may lie (clock skew between the city hotline and us).
MAX_FUTURE_SKEW: Final = timedelta(minutes=5)

ORDER_NO_PATTERN: Final = r"^[A-Za-z0-9_-]{1,64}$"


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
    AWAITING_CALLBACK = "awaiting_callback"
    REHANDLING = "rehandling"
    APPEALING = "appealing"
    CLOSED = "closed"


class Outcome(StrEnum):
    """How a closed order ended."""

    SATISFIED = "satisfied"
    BASICALLY_SATISFIED = "basically_satisfied"
    DISSATISFIED = "dissatisfied"
    APPEAL_UPHELD = "appeal_upheld"
    APPEAL_REJECTED = "appeal_rejected"
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
    phone: str = Field(
        pattern=r"^\+?[0-9][0-9 -]{2,31}$", description="Reporter's phone number (digits, +, -)."
    )
    confidential: bool = Field(
        default=False,
        description="The reporter asked for confidentiality (Art. 8.2): units never see name or phone.",
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
        return workflow_id_for(self.order_no)

    def check_arrival(self, now: datetime) -> None:
        """Refuse a `dispatched_at` more than five minutes after ``now``.

        Raises:
            InvalidOrder: naming the field and the allowed range.
        """
        if self.dispatched_at > now + MAX_FUTURE_SKEW:
            raise InvalidOrder(
                f"dispatched_at: {self.dispatched_at.isoformat()} lies in the future; allowed: "
                f"not later than {(now + MAX_FUTURE_SKEW).isoformat()} (now + 5 minutes)"
            )


def workflow_id_for(order_no: str) -> str:
    """The workflow id of an order number (contract: `order-<order_no>`)."""
    return f"order-{order_no}"


def _known_org(v: str) -> str:
    if v not in ORGANISATIONS:
        raise ValueError(
            f"unknown org {v!r}; allowed: hotline, center, utilities, dept-*, unit-*, district-* "
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


class Receive(Action):
    """`receive`: the platform checks the order in (查收, Article 8.1)."""


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

    due: AwareDatetime
    explanation: str
    calendar_confirmed: bool = True
    warned_at: AwareDatetime | None = None
    overdue_since: AwareDatetime | None = None
    met_at: AwareDatetime | None = None


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
    phase: Phase
    outcome: Outcome | None = None
    deadlines: dict[str, DeadlineState] = Field(default_factory=dict)
    flags: list[str] = Field(default_factory=list)
    rejected_actions: list[RejectedAction] = Field(default_factory=list)
    timeline: list[TimelineEntry] = Field(default_factory=list)


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
