"""What the workflow hands to its activities: records, not contract payloads."""

from __future__ import annotations

from datetime import date

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from domain.calendar import CalendarYear
from domain.inquiry import InquiryStatus, NewInquiry
from domain.machine import OutboxItem
from domain.models import NewOrder, OrderStatus, TimelineEntry
from domain.rulebook import Rulebook


class NumberedEntry(BaseModel):
    """A timeline entry with its position in the order's timeline (its idempotency key)."""

    model_config = ConfigDict(frozen=True)

    seq: int = Field(ge=0)
    entry: TimelineEntry


class MachineRecord(BaseModel):
    """What a workflow hands its record activity at one revision: the rows not yet written.

    Writing a record twice, or an older record after a newer one, changes nothing: rows are keyed
    by (run_id, seq) and the projection by run_id with its revision.
    """

    model_config = ConfigDict(frozen=True)

    run_id: str
    workflow_id: str
    revision: int = Field(ge=0)
    entries: list[NumberedEntry] = Field(default_factory=list)
    outbox: list[OutboxItem] = Field(default_factory=list)


class OrderRecord(MachineRecord):
    """The projection of one order run at one revision, with the timeline and outbox rows not yet written."""

    order: NewOrder
    status: OrderStatus
    units: list[str] = Field(default_factory=list)
    archive: bool = Field(default=False, description="The order closed: archive it in the same transaction.")


class InquiryRecord(MachineRecord):
    """The projection of one doubtful order run at one revision, with the rows not yet written."""

    inquiry: NewInquiry
    status: InquiryStatus


class CalendarRequest(BaseModel):
    """Which years of the business calendar an order needs."""

    model_config = ConfigDict(frozen=True)

    years: list[int]


class OrderRulesRequest(BaseModel):
    """What an order binds at start: the rulebook in force at its transfer, and its calendar years."""

    model_config = ConfigDict(frozen=True)

    at: AwareDatetime = Field(description="The order's `dispatched_at`: the rulebook in force then is bound.")
    years: list[int]


class OrderRules(BaseModel):
    """The rulebook version an order binds for life, and the calendar data of the years asked for."""

    model_config = ConfigDict(frozen=True)

    rulebook: Rulebook
    years: list[CalendarYear]


class CalendarYears(BaseModel):
    """The stored (current version of the) calendar data of the years asked for that are known."""

    model_config = ConfigDict(frozen=True)

    years: list[CalendarYear]


class MonthlyReportRequest(BaseModel):
    """The month (its first day) whose report to produce."""

    model_config = ConfigDict(frozen=True)

    month: date


class MonthlyReportResult(BaseModel):
    """Where the month's report went."""

    model_config = ConfigDict(frozen=True)

    month: date
    orders: int
    ranked: int
    stored: bool


class DutyDay(BaseModel):
    """The day a daily duty runs for, and its parameters."""

    model_config = ConfigDict(frozen=True)

    day: date
    training_reminder_working_days: int = Field(default=3, ge=0)


class DutyOutcome(BaseModel):
    """What a duty did."""

    model_config = ConfigDict(frozen=True)

    duty: str
    period: str
    orgs: list[str] = Field(default_factory=list)
    skipped: str = ""
