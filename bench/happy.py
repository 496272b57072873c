"""The happy path of lifecycle 2, as the messages a client sends (plain JSON, like any Temporal client).

start -> receive -> propose -> review (approved) -> contact_reporter -> submit_result -> review_result
(approved) -> callback (satisfied). A unit's instants (its contact, when the reporter was told) lie
between the unit's dispatch and now: they are taken from the dispatch the review answered with.
Every action carries a `request_id` (the order's number and the step), so a client that retries a
call whose answer it lost sends the very same message and it takes effect once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

from domain.calendar import SHANGHAI
from domain.contract import OrderAction

PLATFORM: Final = {"org": "center", "person": "王工", "role": "operator"}
SUPERVISOR: Final = {"org": "dept-hotline", "person": "李处", "role": "supervisor"}
HOTLINE: Final = {"org": "hotline", "person": "12345坐席", "role": "hotline"}
LEAD: Final = "dept-roads"
UNIT: Final = {"org": LEAD, "person": "张科", "role": "handler"}

#: The steps after the start, in order: (action, payload without actor/request_id, actor).
STEPS: Final[tuple[tuple[str, dict[str, Any], dict[str, str]], ...]] = (
    (OrderAction.RECEIVE, {}, PLATFORM),
    (OrderAction.PROPOSE, {"lead_unit": LEAD, "assisting_units": [], "opinion": "转道桥处办理"}, PLATFORM),
    (OrderAction.REVIEW, {"approved": True, "comment": "同意"}, SUPERVISOR),
    (OrderAction.CONTACT_REPORTER, {"method": "phone", "note": "已联系"}, UNIT),
    (OrderAction.SUBMIT_RESULT, {"result": "已修复"}, UNIT),
    (OrderAction.REVIEW_RESULT, {"approved": True, "comment": "结果属实"}, PLATFORM),
    (OrderAction.CALLBACK, {"verdict": "satisfied"}, HOTLINE),
)


def new_order(order_no: str, *, now: datetime | None = None) -> dict[str, Any]:
    """A valid `NewOrder` (normal tier: no deadline comes near while it runs), transferred a minute ago."""
    at = (now or datetime.now(SHANGHAI)).astimezone(SHANGHAI) - timedelta(minutes=1)
    return {
        "order_no": order_no,
        "tier": "normal",
        "category": "general",
        "dispatched_at": at.replace(microsecond=0).isoformat(),
        "reporter": {"name": "张三", "phone": "13800000000", "confidential": False},
        "location": {"district": "hexi", "address": "友谊路与围堤道交口"},
        "subject": "路灯不亮",
        "description": "三盏路灯连续三晚不亮",
        "demands": "尽快修复",
    }


def message(order_no: str, step: int, dispatched_at: str | None) -> dict[str, Any]:
    """The payload of step ``step`` (an index of `STEPS`) for ``order_no``.

    ``dispatched_at`` is the lead unit's dispatch (from the review's answer): the unit's instants.
    """
    name, fields, actor = STEPS[step]
    payload: dict[str, Any] = {"actor": actor, "request_id": f"{order_no}:{name}", **fields}
    if name == OrderAction.CONTACT_REPORTER:
        payload["at"] = dispatched_at
    elif name == OrderAction.SUBMIT_RESULT:
        payload["reporter_informed_at"] = dispatched_at
    return payload


def lead_dispatched_at(status: Any) -> str:
    """The lead unit's dispatch instant in a status answer (a model or plain JSON); now if none."""
    data = status.model_dump(mode="json") if hasattr(status, "model_dump") else status
    for a in reversed((data or {}).get("assignments") or []):
        if a.get("unit") == LEAD:
            return str(a["dispatched_at"])
    return datetime.now(SHANGHAI).isoformat()
