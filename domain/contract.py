"""Every name of the public contract, in one place (``docs/contract.md``).

Workflow types, the task queue, workflow ids, message and query names, search attribute keys and
the flags they carry: these are what any Temporal client uses to drive an order with plain JSON.
They are fixed: rename nothing here; add, don't break. Code, tests and docs take the names from
this module instead of spelling them again.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

# -- workflows -----------------------------------------------------------------------------------

#: The order workflow (one per order transferred by the city hotline).
WORK_ORDER: Final = "WorkOrder"
#: The doubtful-order workflow (Article 7.3).
DOUBTFUL_ORDER: Final = "DoubtfulOrder"
#: The daily duties (training reminders, roster reminders) run by a Schedule.
DAILY_DUTIES: Final = "DailyDuties"
#: The monthly report (assessment and bulletin) run by a Schedule.
MONTHLY_REPORT: Final = "MonthlyReport"

#: The default task queue of every workflow and activity (setting ``HOTLINE_TASK_QUEUE``).
TASK_QUEUE: Final = "hotline-orders"
#: The default namespace (setting ``HOTLINE_NAMESPACE``).
NAMESPACE: Final = "default"

ORDER_ID_PREFIX: Final = "order-"
INQUIRY_ID_PREFIX: Final = "inquiry-"

#: Ids of the Temporal Schedules the worker keeps.
DAILY_DUTIES_SCHEDULE: Final = "hotline-daily-duties"
MONTHLY_REPORT_SCHEDULE: Final = "hotline-monthly-report"


def order_workflow_id(order_no: str) -> str:
    """The workflow id of an order number: ``order-<order_no>``."""
    return f"{ORDER_ID_PREFIX}{order_no}"


def inquiry_workflow_id(inquiry_no: str) -> str:
    """The workflow id of a doubtful order's number: ``inquiry-<inquiry_no>``."""
    return f"{INQUIRY_ID_PREFIX}{inquiry_no}"


def order_no_of(workflow_id: str) -> str:
    """The order number in an order's workflow id (the inverse of `order_workflow_id`)."""
    return workflow_id.removeprefix(ORDER_ID_PREFIX)


# -- messages ------------------------------------------------------------------------------------


class OrderAction(StrEnum):
    """The actions of `WorkOrder`: each is both an Update and a Signal of this name."""

    RECEIVE = "receive"
    PROPOSE = "propose"
    REVIEW = "review"
    RETURN_TO_HOTLINE = "return_to_hotline"
    CONTACT_REPORTER = "contact_reporter"
    RETURN_ORDER = "return_order"
    REQUEST_EXTENSION = "request_extension"
    CONTRIBUTE = "contribute"
    RELEASE_ASSISTING_UNIT = "release_assisting_unit"
    SUBMIT_RESULT = "submit_result"
    REVIEW_RESULT = "review_result"
    FORWARD_EXTENSION = "forward_extension"
    FILE_APPEAL = "file_appeal"
    EXTENSION_DECISION = "extension_decision"
    CALLBACK = "callback"
    APPEAL_DECISION = "appeal_decision"
    WITHDRAW = "withdraw"


class InquiryAction(StrEnum):
    """The actions of `DoubtfulOrder`: each is both an Update and a Signal of this name."""

    ANSWER = "answer"
    REASSIGN = "reassign"


#: The query every action-driven workflow answers with its state.
STATUS_QUERY: Final = "status"
#: `WorkOrder`'s query of what one unit sees (argument: the unit's org id as a JSON string).
HANDLING_ORDER_QUERY: Final = "handling_order"
#: Signal (not an action) telling a running order the business calendar changed.
CALENDAR_CHANGED_SIGNAL: Final = "calendar_changed"


# -- search attributes ---------------------------------------------------------------------------


class SearchAttribute(StrEnum):
    """The custom search attributes (never personal data), with their registered names."""

    ORDER_TIER = "OrderTier"
    ORDER_CATEGORY = "OrderCategory"
    ORDER_PLATFORM = "OrderPlatform"
    ORDER_PHASE = "OrderPhase"
    ORDER_UNITS = "OrderUnits"
    ORDER_DISTRICT = "OrderDistrict"
    RECEIPT_DUE = "ReceiptDue"
    COMPLETION_DUE = "CompletionDue"
    ORDER_FLAGS = "OrderFlags"


#: Each search attribute's type, in the `temporal` CLI's spelling.
SEARCH_ATTRIBUTE_TYPES: Final[dict[SearchAttribute, str]] = {
    SearchAttribute.ORDER_TIER: "Keyword",
    SearchAttribute.ORDER_CATEGORY: "Keyword",
    SearchAttribute.ORDER_PLATFORM: "Keyword",
    SearchAttribute.ORDER_PHASE: "Keyword",
    SearchAttribute.ORDER_UNITS: "KeywordList",
    SearchAttribute.ORDER_DISTRICT: "Keyword",
    SearchAttribute.RECEIPT_DUE: "Datetime",
    SearchAttribute.COMPLETION_DUE: "Datetime",
    SearchAttribute.ORDER_FLAGS: "KeywordList",
}


class Flag(StrEnum):
    """What `OrderFlags` holds: marks on an order that never hold personal data."""

    RECEIPT_LATE = "receipt_late"
    COMPLETION_LATE = "completion_late"
    REHANDLING_LATE = "rehandling_late"
    RESULT_REVIEW_LATE = "result_review_late"
    EXTENSION_PENDING = "extension_pending"
    DISSATISFIED = "dissatisfied"
    APPEALED = "appealed"
    CALENDAR_UNCONFIRMED = "calendar_unconfirmed"
    REPLY_LATE = "reply_late"


#: The flags that mark a missed duty deadline, the units' and the platform's (what `hotline order list
#: --late` looks for).
LATE_FLAGS: Final = (Flag.RECEIPT_LATE, Flag.COMPLETION_LATE, Flag.REHANDLING_LATE, Flag.RESULT_REVIEW_LATE)


def _literal(value: str) -> str:
    if "'" in value or '"' in value or "\\" in value:
        raise ValueError(f"a search attribute value may not contain quotes or backslashes: {value!r}")
    return f"'{value}'"


def visibility_in(attribute: SearchAttribute, values: tuple[str, ...] | list[str]) -> str:
    """A visibility-query clause ``Attr IN ('a', 'b')``.

    Raises:
        ValueError: a value holds a quote or a backslash (it could break out of the literal).
    """
    return f"{attribute.value} IN ({', '.join(_literal(v) for v in values)})"


def visibility_eq(attribute: SearchAttribute, value: str) -> str:
    """A visibility-query clause ``Attr = 'value'`` (same refusal as `visibility_in`)."""
    return f"{attribute.value} = {_literal(value)}"


# -- reports to the city hotline -----------------------------------------------------------------


class HotlineSubmission(StrEnum):
    """Kinds of the city-hotline outbox's messages that belong to no order: what the commission reports
    to the city hotline (报送, Articles 4.6, 5.4, 6.6, 11), one message per knowledge-base entry."""

    #: A knowledge-base entry: a regulation's revision, real-time or hot-topic information.
    KNOWLEDGE_BASE = "knowledge_base"
    #: A unit's monthly training material (its payload names the month).
    TRAINING_MATERIAL = "training_material"
